package io.tidesync.postgres.source.internal;

import io.tidesync.spi.TableSchema;
import java.util.List;

/** A captured table as the catalog describes it: its schema for batches and the parser of each column. */
public record TableInfo(QualifiedName name, long oid, TableSchema schema, List<PgType> types, char replicaIdentity) {}
