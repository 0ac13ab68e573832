package io.tidesync.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Keeps the figures of scenarios a run skipped ({@code --scenarios 3,4,5}): results and ratios of
 * the newest earlier report of the same mode are copied in, each marked {@code carried_from}, so
 * BENCHMARKS.md keeps every scenario's latest figures.
 */
final class Carry {
  private Carry() {}

  @SuppressWarnings("unchecked")
  static void fromEarlierRun(Path resultsDir, boolean quick, List<String> scenarios, List<Map<String, Object>> results,
      Map<String, Map<String, Object>> ratios, List<String> notes) throws Exception {
    if (!Files.isDirectory(resultsDir)) {
      return;
    }
    Path previous;
    try (Stream<Path> files = Files.list(resultsDir)) {
      previous = files.filter(f -> f.getFileName().toString().endsWith(quick ? "-quick.json" : ".json"))
          .filter(f -> quick || !f.getFileName().toString().endsWith("-quick.json"))
          .max((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).orElse(null);
    }
    if (previous == null) {
      return;
    }
    Map<String, Object> old = new ObjectMapper().readValue(previous.toFile(), Map.class);
    String date = String.valueOf(old.get("date"));
    String from = resultsDir.getParent().getFileName() + "/results/" + previous.getFileName() + ", run of "
        + (date.length() > 19 ? date.substring(0, 19) : date) + " UTC";
    int carried = 0;
    List<Map<String, Object>> added = new ArrayList<>();
    for (Map<String, Object> r : (List<Map<String, Object>>) old.getOrDefault("results", List.of())) {
      boolean present = results.stream().anyMatch(m -> Objects.equals(m.get("scenario"), r.get("scenario"))
          && Objects.equals(m.get("contender"), r.get("contender")));
      if (!present) {
        r.putIfAbsent("carried_from", from);
        added.add(r);
        carried++;
      }
    }
    results.addAll(0, added);
    for (Map.Entry<String, Map<String, Object>> e : ((Map<String, Map<String, Object>>) old.getOrDefault("ratios", Map.of())).entrySet()) {
      if (!ratios.containsKey(e.getKey())) {
        e.getValue().putIfAbsent("carried_from", from);
        ratios.put(e.getKey(), e.getValue());
        carried++;
      }
    }
    if (carried > 0) {
      for (Object n : (List<Object>) old.getOrDefault("notes", List.of())) {
        String s = n.toString();
        if (!notes.contains(s) && !s.contains("not measured yet") && !s.startsWith("Figures of scenarios not run")) {
          notes.add(s);
        }
      }
      notes.add(0, "Figures of scenarios not run this time (--scenarios " + String.join(",", scenarios) + ") are carried from"
          + " earlier reports, each marked with the report and run it comes from.");
    }
  }
}
