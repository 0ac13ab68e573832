package io.tidesync.postgres.sink.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class IdentifiersTest {
  @Test
  void quotesEveryIdentifier() {
    assertThat(Identifiers.quote("orders")).isEqualTo("\"orders\"");
    assertThat(Identifiers.quote("My \"odd\" name")).isEqualTo("\"My \"\"odd\"\" name\"");
    assertThat(Identifiers.qualified("s p", "T")).isEqualTo("\"s p\".\"T\"");
    assertThatThrownBy(() -> Identifiers.quote("a\0b")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("identifier contains a NUL character: a\\0b");
  }

  @Test
  void parsesPlainAndQuotedNames() {
    assertThat(Identifiers.parse("user_profiles")).containsExactly("user_profiles");
    assertThat(Identifiers.parse("Public.User_Profiles")).containsExactly("public", "user_profiles");
    assertThat(Identifiers.parse("\"My Schema\".\"Orders\"")).containsExactly("My Schema", "Orders");
    assertThat(Identifiers.parse("\"a.b\".\"say \"\"hi\"\"\"")).containsExactly("a.b", "say \"hi\"");
    assertThat(Identifiers.parse("sch.\"Ünïcødé ✓\"")).containsExactly("sch", "Ünïcødé ✓");
  }

  @Test
  void rejectsNamesThatDoNotParse() {
    assertThatThrownBy(() -> Identifiers.parse("a.b.c")).hasMessage("expected table or schema.table, found 3 parts");
    assertThatThrownBy(() -> Identifiers.parse("\"open")).hasMessage("unterminated quoted identifier");
    assertThatThrownBy(() -> Identifiers.parse("a.")).hasMessage("empty name part");
    assertThatThrownBy(() -> Identifiers.parse("\"\"")).hasMessage("empty quoted identifier");
    assertThatThrownBy(() -> Identifiers.parse("x".repeat(64))).hasMessage("'" + "x".repeat(64)
        + "' is longer than PostgreSQL's limit of 63 bytes");
  }

  @Test
  void derivedNamesFitIn63BytesWithoutSplittingCharacters() {
    assertThat(Identifiers.derived("orders", "__ts_load")).isEqualTo("orders__ts_load");
    String longAscii = "a".repeat(63);
    String d = Identifiers.derived(longAscii, "__ts_load");
    assertThat(Identifiers.byteLength(d)).isLessThanOrEqualTo(63);
    assertThat(d).endsWith("__ts_load").startsWith("aaaa");
    String unicode = "é".repeat(31); // 62 bytes
    String u = Identifiers.derived(unicode, "__ts_load");
    assertThat(Identifiers.byteLength(u)).isLessThanOrEqualTo(63);
    assertThat(u).endsWith("__ts_load").doesNotContain("\uFFFD");
    assertThat(Identifiers.derived("b".repeat(60) + "x", "__ts_load"))
        .isNotEqualTo(Identifiers.derived("b".repeat(60) + "y", "__ts_load"));
    assertThat(List.of(Identifiers.prefixWithinBytes("é𝄞", 3), Identifiers.prefixWithinBytes("é𝄞", 6)))
        .containsExactly("é", "é𝄞");
  }
}
