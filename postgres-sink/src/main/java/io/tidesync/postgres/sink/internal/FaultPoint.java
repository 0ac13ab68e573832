package io.tidesync.postgres.sink.internal;

import java.util.concurrent.atomic.AtomicReference;

/**
 * TEST SUPPORT ONLY, not API: points between the steps of an apply where a test can make the
 * applier fail, to prove that a restarted pipeline neither loses nor repeats a change.
 *
 * <p>{@link #arm} makes the next applier (of any sink in this JVM) that passes the point throw
 * {@link InjectedFault} once, or run an action once. Only one point is armed at a time.
 */
public enum FaultPoint {
  /** Rows are staged (COPY done, or the load table filled), nothing applied to the target yet. */
  AFTER_STAGE,
  /** Target rows and position written; the transaction is not committed yet. */
  AFTER_APPLY_BEFORE_COMMIT,
  /** The transaction committed; the caller has not heard back yet. */
  AFTER_COMMIT;

  private static final AtomicReference<FaultPoint> ARMED = new AtomicReference<>();
  /** What the armed point does instead of throwing, or null to throw. */
  private static volatile Runnable action;

  /** Arms {@code point}: the next pass through it throws {@link InjectedFault}. */
  public static void arm(FaultPoint point) {
    action = null;
    ARMED.set(point);
  }

  /**
   * Arms {@code point} with an action: the next pass through it runs {@code action} on the
   * applier's thread (e.g. to break the applier's connection from outside) and goes on.
   */
  public static void arm(FaultPoint point, Runnable action) {
    FaultPoint.action = action;
    ARMED.set(point);
  }

  /** Disarms whatever is armed. */
  public static void disarm() {
    ARMED.set(null);
    action = null;
  }

  /** Called by the applier at this point. */
  public void pass() {
    if (ARMED.get() == this && ARMED.compareAndSet(this, null)) {
      Runnable a = action;
      action = null;
      if (a == null) {
        throw new InjectedFault(this);
      }
      a.run();
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
