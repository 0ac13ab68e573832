package io.tidesync.delta.source.internal;

import io.tidesync.spi.TableId;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Paths;
import java.util.regex.Pattern;

/** Normalizes a table path to the location string used in positions, messages and Kernel calls. */
public final class TableLocation {
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:.*");

  private TableLocation() {}

  /** True if the path carries a URI scheme (and is not a Windows drive letter). */
  static boolean hasScheme(String path) {
    return SCHEME.matcher(path).matches() && !path.matches("^[A-Za-z]:[\\\\/].*");
  }

  /** Why the path cannot be used, or null. Does no I/O. */
  public static String problem(String path) {
    try {
      if (hasScheme(path)) {
        URI uri = new URI(path);
        if (uri.getPath() == null || uri.getPath().isEmpty()) {
          return "delta table path '" + path + "' has no path part: pass e.g. s3a://bucket/dir/table";
        }
      } else {
        Paths.get(path);
      }
      return null;
    } catch (URISyntaxException | InvalidPathException e) {
      return "delta table path '" + path + "' is not a valid path or URI (" + e.getMessage()
          + "): pass a directory or an encoded URI such as file:/lake/table";
    }
  }

  /**
   * {@code file:/abs/path} for local paths and {@code file:} URIs, otherwise the URI without
   * trailing slashes.
   */
  public static String normalize(String path) {
    String p = path.trim();
    if (p.startsWith("file:")) {
      URI uri = URI.create(p);
      p = uri.getPath();
    } else if (hasScheme(p)) {
      URI uri = URI.create(p).normalize();
      String s = uri.toString();
      while (s.endsWith("/") && s.length() > 1) {
        s = s.substring(0, s.length() - 1);
      }
      return s;
    }
    String abs = Paths.get(p).toAbsolutePath().normalize().toString().replace('\\', '/');
    if (!abs.startsWith("/")) {
      abs = "/" + abs;
    }
    while (abs.endsWith("/") && abs.length() > 1) {
      abs = abs.substring(0, abs.length() - 1);
    }
    return "file:" + abs;
  }

  /** Namespace = the parent location, name = the last path segment. */
  public static TableId tableId(String location) {
    int slash = location.lastIndexOf('/');
    if (slash < 0 || slash == location.length() - 1) {
      return TableId.of("", location);
    }
    return TableId.of(location.substring(0, slash), location.substring(slash + 1));
  }
}
