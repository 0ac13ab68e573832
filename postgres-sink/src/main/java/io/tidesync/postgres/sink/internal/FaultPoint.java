package io.tidesync.postgres.sink.internal;

import java.util.concurrent.atomic.AtomicReference;

/**
 * TEST SUPPORT ONLY, not API: points between the steps of an apply where a test can make the
 * applier fail, to prove that a restarted pipeline neither loses nor repeats a change.
 *
 * <p>{@link #arm} makes the next applier (of any sink in this JVM) that passes the point throw
 * {@link InjectedFault} once. Only one point is armed at a time.
 */
public enum FaultPoint {
  /** Rows are staged (COPY done, or the load table filled), nothing applied to the target yet. */
  AFTER_STAGE,
  /** Target rows and position written; the transaction is not committed yet. */
  AFTER_APPLY_BEFORE_COMMIT,
  /** The transaction committed; the caller has not heard back yet. */
  AFTER_COMMIT;

  private static final AtomicReference<FaultPoint> ARMED = new AtomicReference<>();

  /** Arms {@code point}: the next pass through it throws {@link InjectedFault}. */
  public static void arm(FaultPoint point) {
    ARMED.set(point);
  }

  /** Disarms whatever is armed. */
  public static void disarm() {
    ARMED.set(null);
  }

  /** Called by the applier at this point. */
  public void pass() {
    if (ARMED.get() == this && ARMED.compareAndSet(this, null)) {
      throw new InjectedFault(this);
    }
  }

  /** The failure an armed {@link FaultPoint} throws. */
  public static final class InjectedFault extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final FaultPoint point;

    InjectedFault(FaultPoint point) {
      super("injected fault at " + point);
      this.point = point;
    }

    public FaultPoint point() {
      return point;
    }
  }
}
