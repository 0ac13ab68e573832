package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.ApplyResult;
import io.tidesync.spi.ChangeBatch;
import java.sql.SQLException;

/**
 * Writes a reduced CHANGES batch to the target inside the applier's open transaction (it neither
 * commits nor rolls back), and passes {@link FaultPoint#AFTER_STAGE}. One implementation per apply
 * mode; used by the applier's thread only.
 */
interface ChangeWriter {
  /**
   * @param reduced the batch's final state per key; at least one row
   * @return rows inserted, updated and deleted in the target (skipped is left 0)
   */
  ApplyResult write(ChangeBatch batch, TargetPlan plan, ChangeReducer.Reduced reduced) throws SQLException;

  /** For log lines: the apply mode's name. */
  String mode();
}
