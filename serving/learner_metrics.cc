#include "serving/learner_metrics.h"

#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <vector>

namespace streamrec::serving {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

double number(const element& e);

// A stats histogram's "le" object ({"<bound ms>": cumulative count}) as
// Prometheus bounds in seconds and their cumulative counts.
std::pair<std::vector<double>, std::vector<uint64_t>> buckets_in_seconds(object buckets) {
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  for (auto [bound_ms, n] : buckets) {
    bounds.push_back(std::stod(std::string(bound_ms)) / 1000);
    cumulative.push_back(static_cast<uint64_t>(number(n)));
  }
  return {bounds, cumulative};
}

double number(const element& e) {
  if (double d; !e.get_double().get(d)) return d;
  if (int64_t i; !e.get_int64().get(i)) return static_cast<double>(i);
  if (uint64_t u; !e.get_uint64().get(u)) return static_cast<double>(u);
  return std::nan("");  // null: undefined (an AUC before both labels were seen)
}

// The field `name` of `o` as a number; nullopt when absent.
std::optional<double> field(const object& o, std::string_view name) {
  element e;
  if (o[name].get(e)) return std::nullopt;
  return number(e);
}

struct Counter {
  std::string_view field, name, help;
};

void counters(const object& o, const std::vector<Counter>& list, PrometheusText& out) {
  for (const Counter& c : list)
    if (auto v = field(o, c.field)) out.counter(c.name, c.help, *v);
}

}  // namespace

double resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  double pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

void expose_learner_metrics(std::string_view stats_json, double stats_age_s, PrometheusText& out) {
  out.gauge("process_resident_memory_bytes", "Resident memory size in bytes", resident_memory_bytes());
  simdjson::dom::parser parser;
  simdjson::padded_string padded(stats_json);
  object root, consumer, sink;
  const bool valid = !parser.parse(padded).get(root) && !root["consumer"].get(consumer) && !root["sink"].get(sink);
  out.gauge("streamrec_learn_stats_valid", "1 when the learner has reported its stats at least once", valid ? 1 : 0);
  if (!valid) return;
  out.gauge("streamrec_learn_stats_age_seconds", "Seconds since the learner last reported these figures",
            stats_age_s);

  counters(consumer,
           {{"messages", "streamrec_learn_messages_consumed_total", "Kafka messages consumed, valid or not"},
            {"events", "streamrec_learn_events_consumed_total", "Valid events handed to the learner"},
            {"items", "streamrec_learn_items_consumed_total", "Valid item messages consumed"},
            {"duplicates", "streamrec_learn_duplicate_events_total", "Events dropped for a repeated event_id"},
            {"late", "streamrec_learn_late_events_total",
             "Events older than consumer.late_horizon_s before the newest (applied all the same)"},
            {"batches", "streamrec_learn_batches_total", "Consumed batches"},
            {"commits", "streamrec_learn_commits_total", "Offset commits"},
            {"commit_failures", "streamrec_learn_commit_failures_total", "Offset commits that failed"},
            {"sink_retries", "streamrec_learn_sink_retries_total", "Batches retried because Redis failed"}},
           out);
  if (auto lag = field(consumer, "lag"))
    out.gauge("streamrec_learn_consumer_lag_events", "Events in the assigned partitions not consumed yet", *lag);
  if (object lags; !consumer["lag_by_partition"].get(lags))
    for (auto [partition, lag] : lags)
      out.gauge("streamrec_learn_consumer_partition_lag_events",
                "Events of one assigned events partition not consumed yet (high watermark minus position)",
                number(lag), {{"partition", std::string(partition)}});
  const char* dead_help = "Messages sent to the dead-letter topic, by reason (the error header)";
  double dead_total = 0;
  if (object reasons; !consumer["dead_letters_by_reason"].get(reasons)) {
    for (auto [reason, count] : reasons) {
      out.counter("streamrec_learn_dead_letters_total", dead_help, number(count), {{"reason", std::string(reason)}});
      dead_total += number(count);
    }
  }
  if (dead_total == 0) out.counter("streamrec_learn_dead_letters_total", dead_help, 0);

  counters(sink,
           {{"samples_learned", "streamrec_learn_samples_learned_total", "Labelled samples the model learned"},
            {"rankings_written", "streamrec_learn_rankings_written_total", "User rankings Redis acknowledged"},
            {"rankings_skipped", "streamrec_learn_rankings_skipped_total",
             "Rankings not computed: the model knew nothing of the user yet"},
            {"ranking_refreshes_shed", "streamrec_learn_ranking_refreshes_shed_total",
             "Ranking refreshes no click asked for, not made while the model was behind"},
            {"ranking_write_failures", "streamrec_learn_ranking_write_failures_total",
             "Ranking writes Redis did not acknowledge"},
            {"effects_write_failures", "streamrec_learn_effects_write_failures_total",
             "Counter and popularity writes Redis did not acknowledge"},
            {"joiner_duplicates", "streamrec_learn_joiner_duplicates_total",
             "Events the joiner dropped as repeated"}},
           out);
  // The candidate sources (ranking/ranker.h): what each put in the rankings.
  if (object sources; !sink["top_k_sources"].get(sources))
    for (auto [source, n] : sources)
      out.counter("streamrec_learn_ranked_items_total",
                  "Items of the rankings computed, by the candidate source that proposed them", number(n),
                  {{"source", std::string(source)}});
  if (object shares; !sink["top_k_share"].get(shares))
    for (auto [source, share] : shares)
      out.gauge("streamrec_learn_ranked_items_share",
                "Share of the items of every ranking so far proposed by each candidate source (NaN: none yet)",
                number(share), {{"source", std::string(source)}});
  if (object covisits; !sink["covisitation"].get(covisits)) {
    if (auto v = field(covisits, "items"))
      out.gauge("streamrec_learn_covisit_items", "Items the learner keeps co-visits of (rankings.covisit_max_items)",
                *v);
    if (auto v = field(covisits, "neighbours"))
      out.gauge("streamrec_learn_covisit_neighbours",
                "Co-visited neighbours the learner keeps over all items (each at most rankings.covisit_max_neighbours)",
                *v);
    if (auto v = field(covisits, "evicted_items"))
      out.counter("streamrec_learn_covisit_evicted_items_total",
                  "Items whose co-visits the learner dropped to stay within rankings.covisit_max_items", *v);
    if (auto v = field(covisits, "evicted_neighbours"))
      out.counter("streamrec_learn_covisit_evicted_neighbours_total",
                  "Co-visited neighbours dropped to stay within rankings.covisit_max_neighbours", *v);
  }
  // The learned blend (ranking/ranker.h): the clicks it learned from, and the
  // rankings kept for it or not (made from a click the model had not taken in).
  if (object blend; !sink["blend"].get(blend)) {
    if (auto v = field(blend, "clicks_learned"))
      out.counter("streamrec_learn_blend_clicks_learned_total",
                  "Clicks the learned blend learned from (a click on an item of the user's last kept ranking)", *v);
    if (auto v = field(blend, "rankings_kept"))
      out.counter("streamrec_learn_blend_rankings_total",
                  "Rankings computed with the learned blend: kept for it to learn from, or not (out of step: made "
                  "from a click the model's thread had not taken in yet)",
                  *v, {{"kept", "true"}});
    if (auto v = field(blend, "rankings_out_of_step"))
      out.counter("streamrec_learn_blend_rankings_total",
                  "Rankings computed with the learned blend: kept for it to learn from, or not (out of step: made "
                  "from a click the model's thread had not taken in yet)",
                  *v, {{"kept", "false"}});
  }
  // Bounded memory (learner.max_*): per structure, its entries, its bound and
  // what it evicted to stay within it.
  if (object memory; !sink["memory"].get(memory))
    for (auto [structure, figures] : memory) {
      object f;
      if (figures.get(f)) continue;
      const std::string name(structure);
      if (auto v = field(f, "entries"))
        out.gauge("streamrec_learn_memory_entries", "Entries a bounded structure of the learner holds", *v,
                  {{"structure", name}});
      if (auto v = field(f, "bound"))
        out.gauge("streamrec_learn_memory_bound", "The configured bound of that structure (learner.max_*)", *v,
                  {{"structure", name}});
      if (auto v = field(f, "evicted"))
        out.counter("streamrec_learn_memory_evicted_total",
                    "Entries evicted (least recently used first) to stay within the bound", *v, {{"structure", name}});
    }
  if (auto held = field(sink, "held_for_event_time"))
    out.gauge("streamrec_learn_held_for_event_time_events",
              "Events held until every partition has passed their event time", *held);
  if (auto waiting = field(sink, "rankings_waiting"))
    out.gauge("streamrec_learn_rankings_waiting_users",
              "Users asked for and not ranked yet (many while the model's thread is behind)", *waiting);

  // Progressive validation: per task, over the recent window and the whole run.
  struct Auc {
    std::string_view field, task, window;
  };
  for (const Auc& a : {Auc{"auc_click_window", "click", "recent"}, Auc{"auc_ctcvr_window", "ctcvr", "recent"},
                       Auc{"auc_click", "click", "run"}, Auc{"auc_ctcvr", "ctcvr", "run"}})
    if (auto v = field(sink, a.field))
      out.gauge("streamrec_learn_auc", "Progressive-validation AUC per task, over learner.metrics_window samples "
                "(window=recent) or the whole run (window=run); NaN until both labels were seen",
                *v, {{"task", std::string(a.task)}, {"window", std::string(a.window)}});
  for (std::string_view task : {"click", "ctcvr"}) {
    object metrics;
    if (object tasks; sink["tasks"].get(tasks) || tasks[task].get(metrics)) continue;
    if (auto v = field(metrics, "log_loss"))
      out.gauge("streamrec_learn_log_loss", "Progressive-validation log loss per task over the recent window", *v,
                {{"task", std::string(task)}});
    if (auto v = field(metrics, "calibration"))
      out.gauge("streamrec_learn_calibration_ratio",
                "Mean prediction over mean label per task over the recent window (1 is calibrated)", *v,
                {{"task", std::string(task)}});
  }

  // Freshness: a click's Kafka timestamp to its ranking acknowledged by Redis.
  if (object freshness; !sink["freshness_ms"].get(freshness)) {
    const uint64_t count = static_cast<uint64_t>(field(freshness, "count").value_or(0));
    const double sum_s = field(freshness, "sum").value_or(0) / 1000;
    if (object buckets; !freshness["le"].get(buckets)) {
      auto [bounds, cumulative] = buckets_in_seconds(buckets);
      out.histogram("streamrec_learn_ranking_freshness_seconds",
                    "Event (Kafka timestamp) to its user's ranking acknowledged by Redis", bounds, cumulative, count,
                    sum_s);
    }
  }
  // Redis write latency: one effects write (counters, marks, embeddings,
  // sr:model), one round trip of up to 64 rankings.
  if (object writes; !sink["redis_write_ms"].get(writes)) {
    for (auto [writer, histogram] : writes) {
      object h;
      object buckets;
      if (histogram.get(h) || h["le"].get(buckets)) continue;
      auto [bounds, cumulative] = buckets_in_seconds(buckets);
      out.histogram("streamrec_learn_redis_write_duration_seconds",
                    "Redis writes acknowledged, by writer (effects: one exactly-once write with its state; rankings: "
                    "one round trip of up to 64 rankings)",
                    bounds, cumulative, static_cast<uint64_t>(field(h, "count").value_or(0)),
                    field(h, "sum").value_or(0) / 1000, {{"writer", std::string(writer)}});
    }
  }
  if (auto v = field(sink, "checkpoint_age_s"))
    out.gauge("streamrec_learn_checkpoint_age_seconds", "Seconds since the last checkpoint was written (NaN: none)",
              *v);
}

}  // namespace streamrec::serving
