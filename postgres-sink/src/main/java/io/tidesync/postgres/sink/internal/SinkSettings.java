package io.tidesync.postgres.sink.internal;

import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * A validated {@code PostgresSink}'s settings, as its applier needs them.
 *
 * @param schema target schema, or null for the connection's {@code current_schema()}
 * @param table target table
 * @param dataSource where connections come from
 * @param primaryKey configured key columns; empty to take the batches' key
 * @param copyMerge null for AUTO, true for COPY_MERGE, false for BATCHED_UPSERT
 * @param copyThreshold AUTO uses COPY_MERGE from this many reduced rows on
 * @param columnTypes per-column target type overrides, as written by the user
 * @param timeseriesKey column whose latest value wins among a key's post-images, or null
 * @param stripNul true to strip NUL characters, false to fail on them
 * @param stateSchema schema of the {@code sync_state} table
 */
public record SinkSettings(String schema, String table, DataSource dataSource, List<String> primaryKey, Boolean copyMerge,
    int copyThreshold, Map<String, String> columnTypes, String timeseriesKey, boolean stripNul, String stateSchema) {}
