package io.tidesync.delta.sink;

/**
 * What the sink does when a source table gains columns its history table does not have.
 *
 * <p>Delta Kernel 4.4 changes a table's schema only on tables with column mapping, and it cannot
 * append to tables with column mapping; so {@link #ADD_COLUMNS} cannot be honoured yet and
 * {@link DeltaHistorySink#validate()} reports it. The option exists so that pipelines can opt in
 * once Kernel supports it.
 */
public enum SchemaEvolution {
  /**
   * Stop with a {@link io.tidesync.SchemaMismatchException} naming the table, the column and the
   * remedy. The default.
   */
  FAIL,
  /** Add new nullable source columns to the history table (not supported by Kernel 4.4). */
  ADD_COLUMNS
}
