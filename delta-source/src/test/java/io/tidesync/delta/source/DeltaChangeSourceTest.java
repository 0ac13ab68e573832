package io.tidesync.delta.source;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class DeltaChangeSourceTest {

  @Test
  void validateListsEveryProblemWithoutIo() {
    assertThat(DeltaChangeSource.forPath(" ").withSnapshotVersion(-1).validate()).containsExactly(
        "delta table path is blank: pass the table directory or URI to DeltaChangeSource.forPath",
        "snapshot version -1 is negative: pass a table version >= 0 to withSnapshotVersion");
    assertThat(DeltaChangeSource.forPath("s3a://bucket/a b").validate()).singleElement().asString()
        .startsWith("delta table path 's3a://bucket/a b' is not a valid path or URI");
    assertThat(DeltaChangeSource.forPath("/lake/gold/user_profiles").validate()).isEmpty();
  }

  @Test
  void locationIsNormalizedAndDescribed() {
    DeltaChangeSource src = DeltaChangeSource.forPath("/lake/gold/../gold/user_profiles/");
    assertThat(src.location()).isEqualTo("file:/lake/gold/user_profiles");
    assertThat(src.describe()).isEqualTo("delta table file:/lake/gold/user_profiles");
    assertThat(DeltaChangeSource.forPath("file:///lake/t").location()).isEqualTo("file:/lake/t");
    assertThat(DeltaChangeSource.forPath("s3a://bucket/lake/t/").location()).isEqualTo("s3a://bucket/lake/t");
  }

  @Test
  void withMethodsReturnCopies() {
    DeltaChangeSource a = DeltaChangeSource.forPath("/t");
    DeltaChangeSource b = a.withSnapshotVersion(3).onPositionLost(PositionLostPolicy.RESNAPSHOT)
        .withHadoopConfiguration(Map.of("k", "v"));
    assertThat(a.snapshotVersion()).isEmpty();
    assertThat(a.positionLostPolicy()).isEqualTo(PositionLostPolicy.FAIL);
    assertThat(b.snapshotVersion()).hasValue(3);
    assertThat(b.positionLostPolicy()).isEqualTo(PositionLostPolicy.RESNAPSHOT);
    assertThat(b.hadoopConfiguration()).containsEntry("k", "v");
  }
}
