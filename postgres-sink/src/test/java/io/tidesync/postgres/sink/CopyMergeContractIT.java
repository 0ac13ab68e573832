package io.tidesync.postgres.sink;

class CopyMergeContractIT extends PostgresSinkContract {
  @Override
  ApplyMode mode() {
    return ApplyMode.COPY_MERGE;
  }
}
