package io.tidesync.delta.source.internal;

import io.delta.kernel.CommitActions;
import io.delta.kernel.CommitRange;
import io.delta.kernel.CommitRangeBuilder.CommitBoundary;
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.TableManager;
import io.delta.kernel.data.ArrayValue;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.MapValue;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.engine.FileReadResult;
import io.delta.kernel.exceptions.CommitRangeNotFoundException;
import io.delta.kernel.exceptions.KernelException;
import io.delta.kernel.exceptions.StartVersionNotFoundException;
import io.delta.kernel.exceptions.TableNotFoundException;
import io.delta.kernel.internal.DeltaLogActionUtils.DeltaAction;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.actions.AddCDCFile;
import io.delta.kernel.internal.actions.AddFile;
import io.delta.kernel.internal.actions.CommitInfo;
import io.delta.kernel.internal.actions.DeletionVectorDescriptor;
import io.delta.kernel.internal.actions.RemoveFile;
import io.delta.kernel.internal.data.GenericRow;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.internal.deletionvectors.DeletionVectorUtils;
import io.delta.kernel.internal.deletionvectors.RoaringBitmapArray;
import io.delta.kernel.internal.util.SchemaUtils;
import io.delta.kernel.internal.util.Utils;
import io.delta.kernel.internal.util.VectorUtils;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.ByteType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.DecimalType;
import io.delta.kernel.types.DoubleType;
import io.delta.kernel.types.FloatType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.MapType;
import io.delta.kernel.types.MetadataColumnSpec;
import io.delta.kernel.types.ShortType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampNTZType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import io.tidesync.ConfigurationException;
import io.tidesync.InvalidSourceDataException;
import io.tidesync.TidesyncException;
import io.tidesync.spi.ChangeBatchBuilder;
import io.tidesync.spi.ChangeKind;
import io.tidesync.spi.Column;
import io.tidesync.spi.LogicalType;
import io.tidesync.spi.TableSchema;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The one adapter between Tidesync and Delta Kernel: every Kernel call of this module is made
 * here, and nothing Kernel-typed leaves it (callers see {@link VersionState}, {@link Commit},
 * {@link RowCursor} and Tidesync types). Used by one reader thread at a time.
 *
 * <p>Kernel's public API needs some of its internal classes (deletion vector loading, action
 * rows, scan file rows): they are used here only, against the pinned Kernel version.
 */
public final class KernelTable {
  private static final String CHANGE_TYPE_COLUMN = "_change_type";
  private static final Set<DeltaAction> CHANGE_ACTIONS =
      Set.of(DeltaAction.ADD, DeltaAction.REMOVE, DeltaAction.CDC, DeltaAction.METADATA, DeltaAction.COMMITINFO);
  private static final DateTimeFormatter LOCAL_DATE_TIME = DateTimeFormatter.ISO_LOCAL_DATE_TIME;

  private final String location;
  private final Engine engine;

  public KernelTable(String location, Engine engine) {
    this.location = location;
    this.engine = engine;
  }

  /** A DefaultEngine over the Hadoop configuration, with the raw local file system for {@code file:}. */
  public static Engine defaultEngine(Map<String, String> conf) {
    org.apache.hadoop.conf.Configuration hc = new org.apache.hadoop.conf.Configuration();
    hc.set("fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem");
    hc.setBoolean("fs.file.impl.disable.cache", true);
    conf.forEach(hc::set);
    return DefaultEngine.create(hc);
  }

  public String location() {
    return location;
  }

  // ---------------------------------------------------------------- versions and snapshots

  /** The latest version. @throws ConfigurationException if there is no Delta table at the location */
  public VersionState latestState() {
    try {
      return new VersionState(TableManager.loadSnapshot(location).build(engine));
    } catch (TableNotFoundException e) {
      throw notFound(e);
    } catch (KernelException e) {
      throw new TidesyncException(location + ": cannot read the Delta table: " + e.getMessage()
          + ". Check that the path is a Delta table this Kernel version can read", e);
    }
  }

  /**
   * The table as of {@code version}.
   *
   * @throws VersionUnavailableException if Kernel cannot reconstruct that version (log cleaned up)
   */
  public VersionState stateAt(long version) {
    Snapshot s;
    try {
      s = TableManager.loadSnapshot(location).atVersion(version).build(engine);
    } catch (TableNotFoundException e) {
      throw notFound(e);
    } catch (KernelException e) {
      throw new VersionUnavailableException(version, e);
    }
    return new VersionState(s);
  }

  private ConfigurationException notFound(Exception e) {
    return new ConfigurationException(location + ": cannot open the Delta table: there is no Delta "
        + "table (no _delta_log) at this location. Check the path passed to DeltaChangeSource.forPath");
  }

  /** The table's schema, properties and scan state at one version. */
  public final class VersionState {
    private final Snapshot snapshot;
    private final Row scanState;
    private final StructType logicalSchema;
    private final TableSchema schema;
    private final ValueWriter[] writers;
    private final String tableRoot;

    private VersionState(Snapshot snapshot) {
      this.snapshot = snapshot;
      this.logicalSchema = snapshot.getSchema();
      this.scanState = snapshot.getScanBuilder().build().getScanState(engine);
      this.tableRoot = snapshot.getDataPath().toUri().toString();
      List<Column> columns = new ArrayList<>();
      this.writers = new ValueWriter[logicalSchema.length()];
      for (int i = 0; i < logicalSchema.length(); i++) {
        StructField f = logicalSchema.at(i);
        columns.add(new Column(f.getName(), logicalType(f), f.isNullable()));
        writers[i] = writer(f.getDataType());
      }
      this.schema = TableSchema.of(columns);
    }

    public long version() {
      return snapshot.getVersion();
    }

    public long timestampMillis() {
      return snapshot.getTimestamp(engine);
    }

    public TableSchema schema() {
      return schema;
    }

    public boolean cdfEnabled() {
      String v = snapshot.getTableProperties().get("delta.enableChangeDataFeed");
      return v != null && v.trim().equalsIgnoreCase("true");
    }

    /** Every live row of this version, as inserts. */
    public RowCursor scan() {
      CloseableIterator<FilteredColumnarBatch> files = snapshot.getScanBuilder().build().getScanFiles(engine);
      Iterator<FileTask> tasks = new Iterator<>() {
        CloseableIterator<Row> rows;

        @Override
        public boolean hasNext() {
          while (rows == null || !rows.hasNext()) {
            closeQuietly(rows);
            rows = null;
            if (!files.hasNext()) {
              return false;
            }
            rows = files.next().getRows();
          }
          return true;
        }

        @Override
        public FileTask next() {
          Row scanFile = rows.next();
          return new FileTask(scanFile, false, ChangeKind.INSERT, null, null, null, true);
        }
      };
      return new FileRowCursor(this, version(), tasks, () -> {
        closeQuietly(files);
      });
    }

    private LogicalType logicalType(StructField f) {
      try {
        return KernelTable.logicalType(f.getDataType());
      } catch (IllegalArgumentException e) {
        throw new ConfigurationException(location + ": cannot read column '" + f.getName() + "' of type "
            + typeName(f.getDataType()) + " at version " + snapshot.getVersion() + ": the type is not supported ("
            + e.getMessage() + "). Drop or cast the column in the source table, or read a view without it");
      }
    }
  }

  // ---------------------------------------------------------------- commits

  /**
   * The commits from {@code startVersion} to the latest one, or null if there are none.
   *
   * @throws VersionUnavailableException if {@code startVersion} is no longer in the log
   */
  public CommitCursor commitsFrom(long startVersion) {
    CommitRange range;
    try {
      range = TableManager.loadCommitRange(location, CommitBoundary.atVersion(startVersion)).build(engine);
    } catch (StartVersionNotFoundException e) {
      throw new VersionUnavailableException(startVersion, e);
    } catch (CommitRangeNotFoundException e) {
      return null;
    } catch (TableNotFoundException e) {
      throw notFound(e);
    }
    return new CommitCursor(range.getEndVersion(), range.getCommitActions(engine, CHANGE_ACTIONS));
  }

  /** Commits of a range, one at a time. */
  public final class CommitCursor implements AutoCloseable {
    private final long endVersion;
    private final CloseableIterator<CommitActions> commits;

    private CommitCursor(long endVersion, CloseableIterator<CommitActions> commits) {
      this.endVersion = endVersion;
      this.commits = commits;
    }

    /** The last version of the range (the latest version when it was opened). */
    public long endVersion() {
      return endVersion;
    }

    public boolean hasNext() {
      return commits.hasNext();
    }

    /** The next commit, with its file actions read into memory. */
    public Commit next() {
      try (CommitActions ca = commits.next()) {
        Commit c = new Commit(ca.getVersion(), ca.getTimestamp());
        try (CloseableIterator<ColumnarBatch> batches = ca.getActions()) {
          while (batches.hasNext()) {
            c.collect(batches.next());
          }
        }
        return c;
      } catch (Exception e) {
        if (e instanceof RuntimeException r) {
          throw r;
        }
        throw new TidesyncException(location + ": cannot read the Delta log: " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      closeQuietly(commits);
    }
  }

  private record FileAction(String path, Map<String, String> partitionValues, long size, long modificationTime,
      DeletionVectorDescriptor dv, Long baseRowId, Long defaultRowCommitVersion) {}

  /** One commit's actions that matter for change rows. */
  public final class Commit {
    private final long version;
    private final long timestampMillis;
    private final List<FileAction> cdcFiles = new ArrayList<>();
    private final Map<String, FileAction> adds = new LinkedHashMap<>();
    private final Map<String, FileAction> removes = new LinkedHashMap<>();
    private boolean hasMetadata;
    private boolean noOpMerge;

    private Commit(long version, long timestampMillis) {
      this.version = version;
      this.timestampMillis = timestampMillis;
    }

    public long version() {
      return version;
    }

    public long timestampMillis() {
      return timestampMillis;
    }

    /** True if the commit carries a metaData action (schema or property change). */
    public boolean hasMetadata() {
      return hasMetadata;
    }

    private void collect(ColumnarBatch batch) {
      StructType s = batch.getSchema();
      int addOrd = s.indexOf("add");
      int removeOrd = s.indexOf("remove");
      int cdcOrd = s.indexOf("cdc");
      int metaOrd = s.indexOf("metaData");
      int infoOrd = s.indexOf("commitInfo");
      try {
        for (int i = 0; i < batch.getSize(); i++) {
          if (addOrd >= 0 && !batch.getColumnVector(addOrd).isNullAt(i)) {
            ColumnVector v = batch.getColumnVector(addOrd);
            StructType as = AddFile.FULL_SCHEMA;
            if (v.getChild(as.indexOf("dataChange")).getBoolean(i)) {
              String path = v.getChild(as.indexOf("path")).getString(i);
              adds.put(path, new FileAction(path, map(v.getChild(as.indexOf("partitionValues")), i),
                  v.getChild(as.indexOf("size")).getLong(i), v.getChild(as.indexOf("modificationTime")).getLong(i),
                  DeletionVectorDescriptor.fromColumnVector(v.getChild(as.indexOf("deletionVector")), i),
                  optLong(v.getChild(as.indexOf("baseRowId")), i),
                  optLong(v.getChild(as.indexOf("defaultRowCommitVersion")), i)));
            }
          }
          if (removeOrd >= 0 && !batch.getColumnVector(removeOrd).isNullAt(i)) {
            ColumnVector v = batch.getColumnVector(removeOrd);
            StructType rs = RemoveFile.FULL_SCHEMA;
            if (v.getChild(rs.indexOf("dataChange")).getBoolean(i)) {
              String path = v.getChild(rs.indexOf("path")).getString(i);
              Long size = optLong(v.getChild(rs.indexOf("size")), i);
              removes.put(path, new FileAction(path, map(v.getChild(rs.indexOf("partitionValues")), i),
                  size == null ? 0 : size, 0L,
                  DeletionVectorDescriptor.fromColumnVector(v.getChild(rs.indexOf("deletionVector")), i),
                  optLong(v.getChild(rs.indexOf("baseRowId")), i),
                  optLong(v.getChild(rs.indexOf("defaultRowCommitVersion")), i)));
            }
          }
          if (cdcOrd >= 0 && !batch.getColumnVector(cdcOrd).isNullAt(i)) {
            ColumnVector v = batch.getColumnVector(cdcOrd);
            StructType cs = AddCDCFile.FULL_SCHEMA;
            cdcFiles.add(new FileAction(v.getChild(cs.indexOf("path")).getString(i),
                map(v.getChild(cs.indexOf("partitionValues")), i), v.getChild(cs.indexOf("size")).getLong(i), 0L,
                null, null, null));
          }
          if (metaOrd >= 0 && !batch.getColumnVector(metaOrd).isNullAt(i)) {
            hasMetadata = true;
          }
          if (infoOrd >= 0 && !batch.getColumnVector(infoOrd).isNullAt(i)) {
            CommitInfo info = CommitInfo.fromColumnVector(batch.getColumnVector(infoOrd), i);
            if (info != null && info.getOperation().map("MERGE"::equals).orElse(false)) {
              Map<String, String> m = info.getOperationMetrics();
              noOpMerge = m != null && "0".equals(m.get("numTargetRowsInserted"))
                  && "0".equals(m.get("numTargetRowsUpdated")) && "0".equals(m.get("numTargetRowsDeleted"));
            }
          }
        }
      } finally {
        closeBatch(batch);
      }
    }

    /**
     * The commit's change rows as Spark's {@code table_changes} builds them, read with the schema
     * of {@code state} (the table at this version): every delete and update pre-image first, then
     * every insert and update post-image; within each phase, files in log order.
     */
    public RowCursor rows(VersionState state) {
      List<FileTask> before = new ArrayList<>();
      List<FileTask> after = new ArrayList<>();
      if (!cdcFiles.isEmpty()) {
        for (FileAction f : cdcFiles) {
          before.add(task(state, f, true, null, null, null, Boolean.FALSE));
          after.add(task(state, f, true, null, null, null, Boolean.TRUE));
        }
      } else if (!noOpMerge) {
        for (FileAction r : removes.values()) {
          FileAction a = adds.get(r.path());
          if (a == null) {
            before.add(task(state, r, false, ChangeKind.DELETE, null, r.dv(), null));
          } else if (a.dv() != null) {
            // same file with a new deletion vector: rows newly masked are deleted
            before.add(task(state, withPartitions(r, a), false, ChangeKind.DELETE, a.dv(), r.dv(), null));
          }
        }
        for (FileAction a : adds.values()) {
          FileAction r = removes.get(a.path());
          if (r == null) {
            after.add(task(state, a, false, ChangeKind.INSERT, null, a.dv(), null));
          } else if (r.dv() != null) {
            // rows masked before but not any more (RESTORE) are inserted
            after.add(task(state, a, false, ChangeKind.INSERT, r.dv(), a.dv(), null));
          }
        }
      }
      if (before.isEmpty() && after.isEmpty()) {
        return RowCursor.EMPTY;
      }
      before.addAll(after);
      return new FileRowCursor(state, version, before.iterator(), () -> {});
    }
  }

  private static FileAction withPartitions(FileAction remove, FileAction add) {
    if (!remove.partitionValues().isEmpty() || add.partitionValues().isEmpty()) {
      return remove;
    }
    return new FileAction(remove.path(), add.partitionValues(), remove.size() > 0 ? remove.size() : add.size(),
        add.modificationTime(), remove.dv(), remove.baseRowId(), remove.defaultRowCommitVersion());
  }

  private static FileTask task(VersionState state, FileAction f, boolean cdc, ChangeKind kind,
      DeletionVectorDescriptor include, DeletionVectorDescriptor exclude, Boolean afterImages) {
    Map<Integer, Object> add = new HashMap<>();
    StructType as = AddFile.SCHEMA_WITHOUT_STATS;
    add.put(as.indexOf("path"), f.path());
    add.put(as.indexOf("partitionValues"), VectorUtils.stringStringMapValue(f.partitionValues()));
    add.put(as.indexOf("size"), f.size());
    add.put(as.indexOf("modificationTime"), f.modificationTime());
    add.put(as.indexOf("dataChange"), true);
    if (f.baseRowId() != null) {
      add.put(as.indexOf("baseRowId"), f.baseRowId());
    }
    if (f.defaultRowCommitVersion() != null) {
      add.put(as.indexOf("defaultRowCommitVersion"), f.defaultRowCommitVersion());
    }
    StructType ss = InternalScanFileUtils.SCAN_FILE_SCHEMA;
    Map<Integer, Object> scanFile = new HashMap<>();
    scanFile.put(ss.indexOf("add"), new GenericRow(as, add));
    scanFile.put(ss.indexOf("tableRoot"), state.tableRoot);
    return new FileTask(new GenericRow(ss, scanFile), cdc, kind, include, exclude, afterImages, false);
  }

  /**
   * One data file to read: its scan file row (for Kernel's physical-to-logical transform), whether
   * it is a cdc file, the change kind of its rows (non-cdc), row filters by deletion vector
   * ({@code include}: keep only rows in it; {@code exclude}: drop rows in it), and for cdc files
   * which images to keep (false: delete/pre-image; true: insert/post-image).
   */
  private record FileTask(Row scanFile, boolean cdc, ChangeKind kind, DeletionVectorDescriptor include,
      DeletionVectorDescriptor exclude, Boolean afterImages, boolean kernelFilters) {}

  // ---------------------------------------------------------------- reading files

  private final class FileRowCursor implements RowCursor {
    private final VersionState state;
    /** The commit version the rows belong to (for messages). */
    private final long version;
    private final Iterator<FileTask> tasks;
    private final Runnable onClose;
    private FileTask task;
    private CloseableIterator<FileReadResult> reader;
    private RoaringBitmapArray include;
    private RoaringBitmapArray exclude;
    private ColumnarBatch batch;
    private int[] selected = new int[0];
    private ChangeKind[] kinds;
    private int count;
    private int pos;
    private boolean closed;

    FileRowCursor(VersionState state, long version, Iterator<FileTask> tasks, Runnable onClose) {
      this.state = state;
      this.version = version;
      this.tasks = tasks;
      this.onClose = onClose;
    }

    @Override
    public boolean hasNext() {
      while (pos >= count) {
        if (!loadBatch()) {
          return false;
        }
      }
      return true;
    }

    @Override
    public void emit(ChangeBatchBuilder b, long version, long tsMicros) {
      int row = selected[pos];
      b.startRow(kinds != null ? kinds[pos] : task.kind(), version, tsMicros);
      for (int c = 0; c < state.writers.length; c++) {
        ColumnVector v = batch.getColumnVector(c);
        if (!v.isNullAt(row)) {
          state.writers[c].write(v, row, b, c);
        }
      }
      pos++;
    }

    @Override
    public void skip() {
      pos++;
    }

    private boolean loadBatch() {
      releaseBatch();
      try {
        while (true) {
          if (reader != null && reader.hasNext()) {
            convert(reader.next().getData());
            return true;
          }
          closeQuietly(reader);
          reader = null;
          if (closed || !tasks.hasNext()) {
            return false;
          }
          openTask(tasks.next());
        }
      } catch (IOException e) {
        throw new UncheckedIOException(location + ": cannot read a data file of the Delta table", e);
      }
    }

    private StructType readSchema;

    private void openTask(FileTask t) throws IOException {
      task = t;
      include = t.include() == null ? null : bitmap(t.include());
      exclude = t.exclude() == null ? null : bitmap(t.exclude());
      StructType schema = ScanStateRow.getPhysicalDataReadSchema(state.scanState);
      if ((include != null || exclude != null) && rowIndexOrdinal(schema) < 0) {
        schema = schema.add(SchemaUtils.asInternalColumn(StructField.DEFAULT_ROW_INDEX_COLUMN));
      }
      if (t.cdc()) {
        schema = schema.add(CHANGE_TYPE_COLUMN, StringType.STRING, true);
      }
      readSchema = schema;
      FileStatus file = InternalScanFileUtils.getAddFileStatus(t.scanFile());
      reader = engine.getParquetHandler().readParquetFiles(Utils.singletonCloseableIterator(file), schema,
          Optional.empty());
    }

    private RoaringBitmapArray bitmap(DeletionVectorDescriptor dv) {
      return DeletionVectorUtils.loadNewDvAndBitmap(engine, state.tableRoot, dv)._2;
    }

    private void convert(ColumnarBatch physical) throws IOException {
      int n = physical.getSize();
      boolean[] keep = new boolean[n];
      java.util.Arrays.fill(keep, true);
      ChangeKind[] rowKinds = null;
      if (include != null || exclude != null) {
        ColumnVector idx = physical.getColumnVector(rowIndexOrdinal(physical.getSchema()));
        for (int i = 0; i < n; i++) {
          long r = idx.getLong(i);
          keep[i] = (include == null || include.contains(r)) && (exclude == null || !exclude.contains(r));
        }
      }
      ColumnarBatch data = physical;
      if (task.cdc()) {
        int ct = physical.getSchema().indexOf(CHANGE_TYPE_COLUMN);
        ColumnVector types = physical.getColumnVector(ct);
        rowKinds = new ChangeKind[n];
        for (int i = 0; i < n; i++) {
          ChangeKind k = changeKind(types.isNullAt(i) ? null : types.getString(i));
          rowKinds[i] = k;
          keep[i] &= k.isAfterImage() == task.afterImages();
        }
        data = physical.withDeletedColumnAt(ct);
      }
      FilteredColumnarBatch logical;
      try (CloseableIterator<FilteredColumnarBatch> it = Scan.transformPhysicalData(engine, state.scanState,
          task.scanFile(), Utils.singletonCloseableIterator(data))) {
        logical = it.next();
      }
      Optional<ColumnVector> sel = logical.getSelectionVector();
      int m = 0;
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        if (keep[i] && (sel.isEmpty() || (!sel.get().isNullAt(i) && sel.get().getBoolean(i)))) {
          out[m++] = i;
        }
      }
      if (rowKinds != null) {
        kinds = new ChangeKind[m];
        for (int j = 0; j < m; j++) {
          kinds[j] = rowKinds[out[j]];
        }
      } else {
        kinds = null;
      }
      closeBatch(physical);
      batch = logical.getData();
      selected = out;
      count = m;
      pos = 0;
    }

    /**
     * @throws InvalidSourceDataException for a {@code _change_type} outside the Delta protocol
     */
    private ChangeKind changeKind(String value) {
      try {
        return ChangeKind.ofCdfName(value);
      } catch (IllegalArgumentException e) {
        String found = value == null ? "null" : "'" + value + "'";
        throw new InvalidSourceDataException(location + ": cannot read the changes of version " + version
            + ": the change data file " + InternalScanFileUtils.getAddFileStatus(task.scanFile()).getPath()
            + " holds the _change_type " + found + ", which the Delta protocol does not define (it defines insert,"
            + " update_preimage, update_postimage, delete). Fix the program that wrote the table and rewrite this file;"
            + " the pipeline resumes from its last committed position");
      }
    }

    private void releaseBatch() {
      if (batch != null) {
        closeBatch(batch);
        batch = null;
      }
      count = 0;
      pos = 0;
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      releaseBatch();
      closeQuietly(reader);
      reader = null;
      onClose.run();
    }
  }

  private static int rowIndexOrdinal(StructType schema) {
    for (int i = 0; i < schema.length(); i++) {
      StructField f = schema.at(i);
      if (f.isMetadataColumn() && f.getMetadataColumnSpec() == MetadataColumnSpec.ROW_INDEX) {
        return i;
      }
    }
    return -1;
  }

  private static void closeBatch(ColumnarBatch b) {
    for (int i = 0; i < b.getSchema().length(); i++) {
      try {
        b.getColumnVector(i).close();
      } catch (RuntimeException ignored) {
        // best effort: vectors may be shared between a physical and a logical batch
      }
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception ignored) {
        // nothing to do
      }
    }
  }

  private static Map<String, String> map(ColumnVector v, int row) {
    if (v.isNullAt(row)) {
      return Map.of();
    }
    Map<String, String> m = VectorUtils.toJavaMap(v.getMap(row));
    return m == null ? Map.of() : m;
  }

  private static Long optLong(ColumnVector v, int row) {
    return v.isNullAt(row) ? null : v.getLong(row);
  }

  // ---------------------------------------------------------------- types and values

  /** Writes a non-null value of a column into the current row of a builder. */
  private interface ValueWriter {
    void write(ColumnVector v, int row, ChangeBatchBuilder b, int column);
  }

  static LogicalType logicalType(DataType t) {
    String name = typeName(t);
    if (t instanceof BooleanType) return new LogicalType(LogicalType.Kind.BOOLEAN, 0, 0, name);
    if (t instanceof ByteType) return new LogicalType(LogicalType.Kind.INT8, 0, 0, name);
    if (t instanceof ShortType) return new LogicalType(LogicalType.Kind.INT16, 0, 0, name);
    if (t instanceof IntegerType) return new LogicalType(LogicalType.Kind.INT32, 0, 0, name);
    if (t instanceof LongType) return new LogicalType(LogicalType.Kind.INT64, 0, 0, name);
    if (t instanceof FloatType) return new LogicalType(LogicalType.Kind.FLOAT32, 0, 0, name);
    if (t instanceof DoubleType) return new LogicalType(LogicalType.Kind.FLOAT64, 0, 0, name);
    if (t instanceof DecimalType d) return new LogicalType(LogicalType.Kind.DECIMAL, d.getPrecision(), d.getScale(), name);
    if (t instanceof StringType) return new LogicalType(LogicalType.Kind.STRING, 0, 0, name);
    if (t instanceof BinaryType) return new LogicalType(LogicalType.Kind.BINARY, 0, 0, name);
    if (t instanceof DateType) return new LogicalType(LogicalType.Kind.DATE, 0, 0, name);
    if (t instanceof TimestampType) return new LogicalType(LogicalType.Kind.TIMESTAMP_TZ, 0, 0, name);
    if (t instanceof TimestampNTZType) return new LogicalType(LogicalType.Kind.TIMESTAMP_NTZ, 0, 0, name);
    if (t instanceof ArrayType || t instanceof MapType || t instanceof StructType) {
      checkNested(t);
      return LogicalType.json(name);
    }
    throw new IllegalArgumentException("no Tidesync logical type for Delta type " + name);
  }

  private static void checkNested(DataType t) {
    if (t instanceof ArrayType a) {
      checkNested(a.getElementType());
    } else if (t instanceof MapType m) {
      checkNested(m.getKeyType());
      checkNested(m.getValueType());
    } else if (t instanceof StructType s) {
      for (StructField f : s.fields()) {
        checkNested(f.getDataType());
      }
    } else {
      logicalType(t);
    }
  }

  /** Spark SQL's name for a type, e.g. {@code bigint}, {@code array<int>}, {@code struct<a:int>}. */
  static String typeName(DataType t) {
    if (t instanceof BooleanType) return "boolean";
    if (t instanceof ByteType) return "tinyint";
    if (t instanceof ShortType) return "smallint";
    if (t instanceof IntegerType) return "int";
    if (t instanceof LongType) return "bigint";
    if (t instanceof FloatType) return "float";
    if (t instanceof DoubleType) return "double";
    if (t instanceof DecimalType d) return "decimal(" + d.getPrecision() + "," + d.getScale() + ")";
    if (t instanceof StringType) return "string";
    if (t instanceof BinaryType) return "binary";
    if (t instanceof DateType) return "date";
    if (t instanceof TimestampType) return "timestamp";
    if (t instanceof TimestampNTZType) return "timestamp_ntz";
    if (t instanceof ArrayType a) return "array<" + typeName(a.getElementType()) + ">";
    if (t instanceof MapType m) return "map<" + typeName(m.getKeyType()) + "," + typeName(m.getValueType()) + ">";
    if (t instanceof StructType s) {
      StringBuilder sb = new StringBuilder("struct<");
      for (int i = 0; i < s.length(); i++) {
        sb.append(i == 0 ? "" : ",").append(s.at(i).getName()).append(':').append(typeName(s.at(i).getDataType()));
      }
      return sb.append('>').toString();
    }
    return t.toString().toLowerCase(Locale.ROOT);
  }

  private static ValueWriter writer(DataType t) {
    if (t instanceof BooleanType) return (v, r, b, c) -> b.set(c, v.getBoolean(r));
    if (t instanceof ByteType) return (v, r, b, c) -> b.setStorageLong(c, v.getByte(r));
    if (t instanceof ShortType) return (v, r, b, c) -> b.setStorageLong(c, v.getShort(r));
    if (t instanceof IntegerType) return (v, r, b, c) -> b.setStorageLong(c, v.getInt(r));
    if (t instanceof LongType) return (v, r, b, c) -> b.setStorageLong(c, v.getLong(r));
    if (t instanceof FloatType) return (v, r, b, c) -> b.set(c, v.getFloat(r));
    if (t instanceof DoubleType) return (v, r, b, c) -> b.set(c, v.getDouble(r));
    if (t instanceof DecimalType) return (v, r, b, c) -> b.set(c, v.getDecimal(r));
    if (t instanceof StringType) return (v, r, b, c) -> b.setBytes(c, v.getString(r).getBytes(StandardCharsets.UTF_8));
    if (t instanceof BinaryType) return (v, r, b, c) -> b.setBytes(c, v.getBinary(r));
    if (t instanceof DateType) return (v, r, b, c) -> b.setStorageLong(c, v.getInt(r));
    if (t instanceof TimestampType || t instanceof TimestampNTZType) return (v, r, b, c) -> b.setStorageLong(c, v.getLong(r));
    return (v, r, b, c) -> {
      StringBuilder sb = new StringBuilder();
      json(sb, v, r, t);
      b.setBytes(c, sb.toString().getBytes(StandardCharsets.UTF_8));
    };
  }

  /** JSON text of a nested value: struct -> object, array -> array, map -> object keyed by the key's text. */
  static void json(StringBuilder sb, ColumnVector v, int r, DataType t) {
    if (v.isNullAt(r)) {
      sb.append("null");
      return;
    }
    if (t instanceof StructType s) {
      sb.append('{');
      for (int i = 0; i < s.length(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        quote(sb, s.at(i).getName());
        sb.append(':');
        json(sb, v.getChild(i), r, s.at(i).getDataType());
      }
      sb.append('}');
    } else if (t instanceof ArrayType a) {
      ArrayValue av = v.getArray(r);
      ColumnVector e = av.getElements();
      sb.append('[');
      for (int i = 0; i < av.getSize(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        json(sb, e, i, a.getElementType());
      }
      sb.append(']');
    } else if (t instanceof MapType m) {
      MapValue mv = v.getMap(r);
      ColumnVector keys = mv.getKeys();
      ColumnVector values = mv.getValues();
      sb.append('{');
      for (int i = 0; i < mv.getSize(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        quote(sb, keyText(keys, i, m.getKeyType()));
        sb.append(':');
        json(sb, values, i, m.getValueType());
      }
      sb.append('}');
    } else if (t instanceof BooleanType) {
      sb.append(v.getBoolean(r));
    } else if (t instanceof ByteType) {
      sb.append(v.getByte(r));
    } else if (t instanceof ShortType) {
      sb.append(v.getShort(r));
    } else if (t instanceof IntegerType) {
      sb.append(v.getInt(r));
    } else if (t instanceof LongType) {
      sb.append(v.getLong(r));
    } else if (t instanceof FloatType) {
      float f = v.getFloat(r);
      if (Float.isNaN(f) || Float.isInfinite(f)) {
        quote(sb, Float.toString(f));
      } else {
        sb.append(f);
      }
    } else if (t instanceof DoubleType) {
      double d = v.getDouble(r);
      if (Double.isNaN(d) || Double.isInfinite(d)) {
        quote(sb, Double.toString(d));
      } else {
        sb.append(d);
      }
    } else if (t instanceof DecimalType) {
      sb.append(v.getDecimal(r).toPlainString());
    } else {
      quote(sb, scalarText(v, r, t));
    }
  }

  private static String keyText(ColumnVector v, int r, DataType t) {
    if (t instanceof StructType || t instanceof ArrayType || t instanceof MapType) {
      StringBuilder sb = new StringBuilder();
      json(sb, v, r, t);
      return sb.toString();
    }
    if (v.isNullAt(r)) {
      return "null";
    }
    if (t instanceof DecimalType) {
      return v.getDecimal(r).toPlainString();
    }
    if (t instanceof BooleanType || t instanceof ByteType || t instanceof ShortType || t instanceof IntegerType
        || t instanceof LongType || t instanceof FloatType || t instanceof DoubleType) {
      StringBuilder sb = new StringBuilder();
      json(sb, v, r, t);
      String s = sb.toString();
      return s.startsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }
    return scalarText(v, r, t);
  }

  private static String scalarText(ColumnVector v, int r, DataType t) {
    if (t instanceof StringType) return v.getString(r);
    if (t instanceof BinaryType) return Base64.getEncoder().encodeToString(v.getBinary(r));
    if (t instanceof DateType) return LocalDate.ofEpochDay(v.getInt(r)).toString();
    if (t instanceof TimestampType) return microsToInstant(v.getLong(r)).toString();
    if (t instanceof TimestampNTZType) {
      return LOCAL_DATE_TIME.format(LocalDateTime.ofInstant(microsToInstant(v.getLong(r)), ZoneOffset.UTC));
    }
    throw new IllegalStateException("unhandled nested type " + typeName(t));
  }

  private static Instant microsToInstant(long micros) {
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (ch < 0x20) {
            sb.append(String.format("\\u%04x", (int) ch));
          } else {
            sb.append(ch);
          }
        }
      }
    }
    sb.append('"');
  }
}
