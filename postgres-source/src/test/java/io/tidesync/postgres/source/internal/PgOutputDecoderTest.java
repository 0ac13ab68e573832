package io.tidesync.postgres.source.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tidesync.postgres.source.internal.PgOutputMessage.*;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PgOutputDecoderTest {

  /** Builds pgoutput messages byte by byte, as the server writes them. */
  static final class Msg {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final DataOutputStream out = new DataOutputStream(bytes);

    Msg(char type) {
      b(type);
    }

    Msg b(int v) {
      try { out.writeByte(v); } catch (IOException e) { throw new RuntimeException(e); }
      return this;
    }

    Msg i16(int v) {
      try { out.writeShort(v); } catch (IOException e) { throw new RuntimeException(e); }
      return this;
    }

    Msg i32(int v) {
      try { out.writeInt(v); } catch (IOException e) { throw new RuntimeException(e); }
      return this;
    }

    Msg i64(long v) {
      try { out.writeLong(v); } catch (IOException e) { throw new RuntimeException(e); }
      return this;
    }

    Msg str(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      bytes.write(b, 0, b.length);
      return b(0);
    }

    /** A tuple: each value a String (text), null ('n'), or the marker TOAST ('u'). */
    Msg tuple(Object... values) {
      i16(values.length);
      for (Object v : values) {
        if (v == null) {
          b('n');
        } else if (v == TOAST) {
          b('u');
        } else {
          byte[] t = ((String) v).getBytes(StandardCharsets.UTF_8);
          b('t').i32(t.length);
          bytes.write(t, 0, t.length);
        }
      }
      return this;
    }

    ByteBuffer buf() {
      return ByteBuffer.wrap(bytes.toByteArray());
    }
  }

  static final Object TOAST = new Object();

  @Test
  void beginAndCommit() {
    assertThat(PgOutputDecoder.decode(new Msg('B').i64(0x16B374D848L).i64(1_000_000L).i32(-2).buf(), false))
        .isEqualTo(new Begin(0x16B374D848L, 1_000_000L + PgOutputDecoder.PG_EPOCH_MICROS, 0xFFFFFFFEL));
    assertThat(PgOutputDecoder.decode(new Msg('C').b(0).i64(100).i64(150).i64(0).buf(), false))
        .isEqualTo(new Commit(0, 100, 150, PgOutputDecoder.PG_EPOCH_MICROS));
  }

  @Test
  void relationWithDefaultNamespaceAndKeyFlags() {
    Relation r = (Relation) PgOutputDecoder.decode(new Msg('R').i32(16384).str("").str("orders").b('f').i16(2)
        .b(1).str("id").i32(23).i32(-1).b(0).str("note").i32(25).i32(-1).buf(), false);
    assertThat(r.relationId()).isEqualTo(16384);
    assertThat(r.namespace()).isEqualTo("pg_catalog");
    assertThat(r.name()).isEqualTo("orders");
    assertThat(r.replicaIdentity()).isEqualTo('f');
    assertThat(r.columns()).containsExactly(new RelationColumn(true, "id", 23, -1), new RelationColumn(false, "note", 25, -1));
  }

  @Test
  void relationInStreamCarriesXid() {
    Relation r = (Relation) PgOutputDecoder.decode(new Msg('R').i32(77).i32(1).str("public").str("t").b('d').i16(0).buf(), true);
    assertThat(r.xid()).isEqualTo(77);
    assertThat(r.namespace()).isEqualTo("public");
  }

  @Test
  void typeOriginAndMessage() {
    assertThat(PgOutputDecoder.decode(new Msg('Y').i32(90000).str("public").str("mood").buf(), false))
        .isEqualTo(new Type(0, 90000, "public", "mood"));
    assertThat(PgOutputDecoder.decode(new Msg('O').i64(5).str("node1").buf(), false)).isEqualTo(new Origin(5, "node1"));
    LogicalMessage m = (LogicalMessage) PgOutputDecoder.decode(new Msg('M').b(1).i64(9).str("p").i32(2).b(7).b(8).buf(), false);
    assertThat(m.transactional()).isTrue();
    assertThat(m.prefix()).isEqualTo("p");
    assertThat(m.content()).containsExactly(7, 8);
  }

  @Test
  void insertUpdateDelete() {
    Insert i = (Insert) PgOutputDecoder.decode(new Msg('I').i32(5).b('N').tuple("1", null, "x").buf(), false);
    assertThat(i.relationId()).isEqualTo(5);
    assertThat(i.newTuple().kinds()).containsExactly('t', 'n', 't');
    assertThat(new String(i.newTuple().values()[2], StandardCharsets.UTF_8)).isEqualTo("x");

    Update u = (Update) PgOutputDecoder.decode(new Msg('U').i32(5).b('O').tuple("1", "a").b('N').tuple("2", TOAST).buf(), false);
    assertThat(u.oldKind()).isEqualTo('O');
    assertThat(u.oldTuple().size()).isEqualTo(2);
    assertThat(u.newTuple().kinds()).containsExactly('t', 'u');

    Update noOld = (Update) PgOutputDecoder.decode(new Msg('U').i32(5).b('N').tuple("2").buf(), false);
    assertThat(noOld.oldKind()).isEqualTo((char) 0);
    assertThat(noOld.oldTuple()).isNull();

    Delete d = (Delete) PgOutputDecoder.decode(new Msg('D').i32(5).b('K').tuple("1").buf(), false);
    assertThat(d.oldKind()).isEqualTo('K');
  }

  @Test
  void truncate() {
    Truncate t = (Truncate) PgOutputDecoder.decode(new Msg('T').i32(2).b(1).i32(5).i32(6).buf(), false);
    assertThat(t.options()).isEqualTo(1);
    assertThat(t.relationIds()).containsExactly(5, 6);
  }

  @Test
  void streamMessages() {
    assertThat(PgOutputDecoder.decode(new Msg('S').i32(700).b(1).buf(), false)).isEqualTo(new StreamStart(700, true));
    assertThat(PgOutputDecoder.decode(new Msg('E').buf(), true)).isEqualTo(new StreamStop());
    assertThat(PgOutputDecoder.decode(new Msg('c').i32(700).b(0).i64(10).i64(20).i64(0).buf(), false))
        .isEqualTo(new StreamCommit(700, 0, 10, 20, PgOutputDecoder.PG_EPOCH_MICROS));
    assertThat(PgOutputDecoder.decode(new Msg('A').i32(700).i32(701).buf(), false)).isEqualTo(new StreamAbort(700, 701));
    Insert i = (Insert) PgOutputDecoder.decode(new Msg('I').i32(701).i32(5).b('N').tuple("1").buf(), true);
    assertThat(i.xid()).isEqualTo(701);
    assertThat(i.changeXid()).isEqualTo(701);
  }

  @Test
  void unknownMessageTypeIsAClearError() {
    assertThatThrownBy(() -> PgOutputDecoder.decode(new Msg('Z').buf(), false))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("unknown pgoutput message type 'Z' (90)");
  }
}
