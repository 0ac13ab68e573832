package io.tidesync.postgres.sink;

class BatchedUpsertContractIT extends PostgresSinkContract {
  @Override
  ApplyMode mode() {
    return ApplyMode.BATCHED_UPSERT;
  }
}
