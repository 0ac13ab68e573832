package io.tidesync.postgres.sink.internal;

import io.tidesync.spi.Column;
import io.tidesync.spi.TableSchema;
import java.util.ArrayList;
import java.util.List;

/**
 * How one batch schema maps onto the target table: key columns, target and wire types, casts for
 * column type overrides, and the SQL fragments built from them. Immutable; made (and cached per
 * schema) by {@link TargetPlanner}.
 */
final class TargetPlan {
  final TableSchema schema;
  /** Batch column indexes of the primary key, in key order. */
  final int[] keyIdx;
  /** Batch column indexes of the other columns. */
  final int[] nonKeyIdx;
  final boolean[] isKey;
  final List<String> keyNames;
  /** Batch column index of the timeseries key, or -1. */
  final int tsIdx;
  /** Per column, the type text for CREATE TABLE / ADD COLUMN (an override as the user wrote it). */
  final String[] ddlTypes;
  /** Per column, the type as {@code format_type()} prints it, to compare with the catalog. */
  final String[] expectedTypes;
  /** Per column, whether staged (wire-typed) values need a CAST to the target type. */
  final boolean[] cast;
  final boolean anyCast;
  /** Name of the staging table's op column (0 upsert, 1 delete), unused by the batch schema. */
  final String opColumn;

  TargetPlan(TableSchema schema, List<String> keyNames, int tsIdx, String[] ddlTypes, String[] expectedTypes,
      boolean[] cast) {
    this.schema = schema;
    this.keyNames = List.copyOf(keyNames);
    this.keyIdx = keyNames.stream().mapToInt(schema::indexOf).toArray();
    this.isKey = new boolean[schema.size()];
    for (int k : keyIdx) {
      isKey[k] = true;
    }
    List<Integer> nonKey = new ArrayList<>();
    for (int i = 0; i < schema.size(); i++) {
      if (!isKey[i]) {
        nonKey.add(i);
      }
    }
    this.nonKeyIdx = nonKey.stream().mapToInt(Integer::intValue).toArray();
    this.tsIdx = tsIdx;
    this.ddlTypes = ddlTypes;
    this.expectedTypes = expectedTypes;
    this.cast = cast;
    boolean any = false;
    for (boolean c : cast) {
      any |= c;
    }
    this.anyCast = any;
    String op = "_tidesync_op";
    while (schema.indexOf(op) >= 0) {
      op = "_" + op;
    }
    this.opColumn = op;
  }

  List<String> columnNames() {
    return schema.names();
  }

  /** The batch's columns as target columns, for CREATE TABLE. */
  List<TargetTable.NewColumn> newColumns() {
    List<TargetTable.NewColumn> out = new ArrayList<>();
    for (int i = 0; i < schema.size(); i++) {
      out.add(new TargetTable.NewColumn(schema.column(i).name(), ddlTypes[i]));
    }
    return out;
  }

  /** {@code "a" bigint, "b" numeric, ..}: the staging columns, typed as binary COPY writes them. */
  String wireColumns() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < schema.size(); i++) {
      Column c = schema.column(i);
      sb.append(i == 0 ? "" : ", ").append(Identifiers.quote(c.name())).append(' ').append(PgTypes.wire(c.type()));
    }
    return sb.toString();
  }

  /** {@code expr}, cast to the target type when column {@code column} has an override. */
  String valueExpr(int column, String expr) {
    return cast[column] ? "CAST(" + expr + " AS " + ddlTypes[column] + ")" : expr;
  }

  /** {@code s."a", CAST(s."b" AS ..), ..}: every column read from the staged row alias {@code from}. */
  String stagedValues(String from) {
    List<String> cols = schema.names();
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < cols.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append(valueExpr(i, from + "." + Identifiers.quote(cols.get(i))));
    }
    return sb.toString();
  }

  /** {@code t."k" = s."k" AND ..}, with the staged side cast where needed. */
  String keyJoin(String left, String right) {
    StringBuilder sb = new StringBuilder();
    for (int k = 0; k < keyIdx.length; k++) {
      String q = Identifiers.quote(keyNames.get(k));
      sb.append(k == 0 ? "" : " AND ").append(left).append('.').append(q).append(" = ")
          .append(valueExpr(keyIdx[k], right + "." + q));
    }
    return sb.toString();
  }

  /**
   * {@code "a" = s."a", ..} for the non-key columns. Values from {@code EXCLUDED} already have the
   * target type; staged values are cast where needed.
   */
  String updateSet(String from) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < nonKeyIdx.length; i++) {
      int c = nonKeyIdx[i];
      String q = Identifiers.quote(schema.column(c).name());
      String v = from + "." + q;
      sb.append(i == 0 ? "" : ", ").append(q).append(" = ").append("EXCLUDED".equals(from) ? v : valueExpr(c, v));
    }
    return sb.toString();
  }

  /** {@code DO NOTHING} or {@code DO UPDATE SET ..} for an ON CONFLICT on the key. */
  String onConflictAction() {
    return nonKeyIdx.length == 0 ? "DO NOTHING" : "DO UPDATE SET " + updateSet("EXCLUDED");
  }
}
