package io.tidesync.spi;

import org.apache.arrow.memory.BufferAllocator;

/**
 * What a pipeline lends a source's reader: the Arrow allocator its batches must come from (with
 * the pipeline's hard memory limit) and the batch size limits it must respect.
 *
 * @param pipelineName the pipeline's name, for messages
 * @param allocator allocator for every batch; the reader must not close it
 * @param maxBatchRows a batch holds at most this many rows
 * @param maxBatchBytes a batch holds at most about this many bytes (see
 *     {@link ChangeBatchBuilder#estimatedBytes()})
 */
public record SourceContext(String pipelineName, BufferAllocator allocator, int maxBatchRows, long maxBatchBytes) {
  /** True when a batch being built has reached a limit and should be handed over. */
  public boolean isFull(ChangeBatchBuilder builder) {
    return builder.rowCount() >= maxBatchRows || builder.estimatedBytes() >= maxBatchBytes;
  }
}
