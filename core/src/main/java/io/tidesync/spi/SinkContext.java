package io.tidesync.spi;

import io.tidesync.SyncMode;

/**
 * What a pipeline tells a sink's applier.
 *
 * @param pipelineName the pipeline's name; sinks key the committed position by it
 * @param mode the pipeline's mode
 * @param sourceDescription the source's {@link ChangeSource#describe()}, for messages
 */
public record SinkContext(String pipelineName, SyncMode mode, String sourceDescription) {}
