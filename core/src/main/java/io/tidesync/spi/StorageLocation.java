package io.tidesync.spi;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Paths;
import java.util.regex.Pattern;

/**
 * Normalizes a local path or a Hadoop file system URI naming a table or directory in a lake, so
 * that positions, messages and file system calls all use one spelling: {@code file:/abs/path} for
 * local paths and {@code file:} URIs, otherwise the URI without trailing slashes. Pure string
 * work, no I/O.
 */
public final class StorageLocation {
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:.*");

  private StorageLocation() {}

  /** True if the path carries a URI scheme (and is not a Windows drive letter). */
  public static boolean hasScheme(String path) {
    return SCHEME.matcher(path).matches() && !path.matches("^[A-Za-z]:[\\\\/].*");
  }

  /**
   * Why the path cannot be used, or null.
   *
   * @param what what the path names, for the message, e.g. {@code "delta table path"}
   * @param example a URI to suggest, e.g. {@code "s3a://bucket/dir/table"}
   */
  public static String problem(String what, String path, String example) {
    try {
      if (hasScheme(path)) {
        URI uri = new URI(path);
        if (uri.getPath() == null || uri.getPath().isEmpty()) {
          return what + " '" + path + "' has no path part: pass e.g. " + example;
        }
      } else {
        Paths.get(path);
      }
      return null;
    } catch (URISyntaxException | InvalidPathException e) {
      return what + " '" + path + "' is not a valid path or URI (" + e.getMessage()
          + "): pass a directory or an encoded URI such as file:/lake/table";
    }
  }

  /** The normalized location (see the class comment). */
  public static String normalize(String path) {
    String p = path.trim();
    if (p.startsWith("file:")) {
      p = URI.create(p).getPath();
    } else if (hasScheme(p)) {
      return stripSlashes(URI.create(p).normalize().toString());
    }
    String abs = Paths.get(p).toAbsolutePath().normalize().toString().replace('\\', '/');
    if (!abs.startsWith("/")) {
      abs = "/" + abs;
    }
    return "file:" + stripSlashes(abs);
  }

  private static String stripSlashes(String s) {
    while (s.endsWith("/") && s.length() > 1 && !s.endsWith(":/")) {
      s = s.substring(0, s.length() - 1);
    }
    return s;
  }
}
