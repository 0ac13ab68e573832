package io.tidesync.testkit.internal;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

/** Without a Docker engine (as on the build machines), the Testcontainers path skips, never fails. */
class TestcontainersServerTest {
  @Test
  void skipsCleanlyWithoutADockerEngine() {
    org.junit.jupiter.api.Assumptions.assumeFalse(new java.io.File("/var/run/docker.sock").exists(),
        "a Docker engine socket exists here: the container path may really start");
    assertThatThrownBy(PostgresServers.TestcontainersServer::start)
        .isInstanceOf(TestAbortedException.class)
        .hasMessageContaining("TIDESYNC_TEST_PG=testcontainers but no Docker engine is available");
  }
}
