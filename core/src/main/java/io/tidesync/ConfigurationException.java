package io.tidesync;

import java.util.List;

/**
 * Settings that cannot work, found before any I/O: by {@code build()} methods, listing every
 * problem at once, or by a component when it first meets the real system (a missing primary key
 * column, a table without Change Data Feed).
 */
public class ConfigurationException extends TidesyncException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  public ConfigurationException(String message) {
    this(message, List.of(message));
  }

  /** A single problem found when meeting the real system, with the error that revealed it. */
  public ConfigurationException(String message, Throwable cause) {
    super(message, cause);
    this.problems = List.of(message);
  }

  public ConfigurationException(String message, List<String> problems) {
    super(message);
    this.problems = List.copyOf(problems);
  }

  /** Builds the message {@code <subject>: invalid configuration: 1) .. 2) ..} from every problem. */
  public static ConfigurationException of(String subject, List<String> problems) {
    StringBuilder sb = new StringBuilder(subject).append(": invalid configuration (")
        .append(problems.size()).append(problems.size() == 1 ? " problem): " : " problems): ");
    for (int i = 0; i < problems.size(); i++) {
      if (i > 0) {
        sb.append("; ");
      }
      sb.append(i + 1).append(") ").append(problems.get(i));
    }
    return new ConfigurationException(sb.toString(), problems);
  }

  /** Every problem found, each a sentence that names the setting and the fix. */
  public List<String> problems() {
    return problems;
  }
}
