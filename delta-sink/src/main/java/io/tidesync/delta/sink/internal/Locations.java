package io.tidesync.delta.sink.internal;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Paths;
import java.util.regex.Pattern;

/** Normalizes the history directory to the location string used in Kernel calls and messages. */
public final class Locations {
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:.*");

  private Locations() {}

  private static boolean hasScheme(String path) {
    return SCHEME.matcher(path).matches() && !path.matches("^[A-Za-z]:[\\\\/].*");
  }

  /** Why the path cannot be used, or null. No I/O. */
  public static String problem(String path) {
    try {
      if (hasScheme(path)) {
        URI uri = new URI(path);
        if (uri.getPath() == null || uri.getPath().isEmpty()) {
          return "history directory '" + path + "' has no path part: pass e.g. s3a://bucket/bronze";
        }
      } else {
        Paths.get(path);
      }
      return null;
    } catch (URISyntaxException | InvalidPathException e) {
      return "history directory '" + path + "' is not a valid path or URI (" + e.getMessage()
          + "): pass a directory or an encoded URI such as file:/lake/bronze";
    }
  }

  /** {@code file:/abs/path} for local paths and {@code file:} URIs, otherwise the URI without trailing slashes. */
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

  /** A pipeline name made safe for a file name: characters other than letters, digits, '.', '_', '-' become '_'. */
  public static String fileSafe(String name) {
    return name.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
