#include "producers/synthetic_stream.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <utility>

namespace streamrec {

namespace {

// The model's fixed shape. base_ctr and base_cvr set the levels; these set how
// much each effect matters (see docs/producers.md).
constexpr double kAffinityScale = 2.5;        // s: weight of <user, item> in the click logit
constexpr double kPurchaseScale = 1.5;        // s_p: weight of <user, item_purchase>
constexpr double kPriceEffect = 0.5;          // per unit of log price above the catalog mean
constexpr double kItemBiasStddev = 0.5;
constexpr double kItemNoise = 0.5;            // norm of an item's offset from its category centre
constexpr double kUserNoise = 0.3;            // norm of a user's offset from its favourite mix
constexpr double kZipfExponent = 0.9;         // item popularity ~ 1 / rank^kZipfExponent
constexpr double kActivityStddev = 0.8;       // user activity ~ lognormal(0, this)
constexpr double kCategoryLogPriceLo = 1.6;   // category mean price e^1.6 ~ 5 ...
constexpr double kCategoryLogPriceHi = 5.3;   // ... to e^5.3 ~ 200
constexpr double kItemLogPriceStddev = 0.4;
constexpr double kHomeDeviceShare = 0.85;     // requests from the user's usual device
constexpr double kClickDelayMeanMs = 30'000;  // click delay: 1 s + exp(30 s), capped at 9 min
constexpr double kClickDelayCapMs = 540'000;
constexpr double kPurchaseDelayMeanMs = 300'000;  // purchase delay: 5 s + exp(5 min), capped at 50 min
constexpr double kPurchaseDelayCapMs = 3'000'000;
constexpr int kCalibrationRequests = 20'000;
constexpr double kDelayLogStddev = 1.0;       // realistic delays: log-normal shape
constexpr int64_t kMinDelayMs = 1000;         // realistic delays: at least a second
// Seeds of the generators of the optional effects, xor-ed with the seed, so
// that turning them on leaves the main generator's draws unchanged.
constexpr uint64_t kDelaySeed = 0x13198a2e03707344ULL;
constexpr uint64_t kDriftSeed = 0xa4093822299f31d0ULL;
constexpr uint64_t kChurnSeed = 0x082efa98ec4e6c89ULL;

constexpr const char* kDevices[] = {"ios", "android", "web"};
constexpr double kDeviceShare[] = {0.40, 0.45, 0.15};
constexpr double kDeviceEffect[] = {0.10, 0.0, -0.15};
constexpr const char* kPages[] = {"home", "search", "cart"};
constexpr double kPageShare[] = {0.6, 0.3, 0.1};
constexpr double kPageEffect[] = {0.0, 0.3, -0.2};
constexpr double kHourEffect = 0.15;  // peaks at 20:00 UTC

// Heap order for pending events: the earliest (ts_ms, seq) on top.
constexpr auto kLaterFirst = [](const auto& a, const auto& b) {
  return a.ts_ms != b.ts_ms ? a.ts_ms > b.ts_ms : a.seq > b.seq;
};

// "<prefix><n>", e.g. "u42". (Built by appending: GCC 12 warns falsely on
// "literal" + std::string under -O3.)
std::string make_id(char prefix, int64_t n) {
  std::string id(1, prefix);
  id += std::to_string(n);
  return id;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Index i with probability cdf[i] - cdf[i-1]; cdf is increasing, ends at 1.
int64_t sample_cdf(const std::vector<double>& cdf, Random& rng) {
  double u = rng.uniform();
  auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
  if (it == cdf.end()) --it;
  return it - cdf.begin();
}

template <size_t N>
int sample_share(const double (&share)[N], Random& rng) {
  double u = rng.uniform();
  for (size_t i = 0; i + 1 < N; ++i) {
    if (u < share[i]) return static_cast<int>(i);
    u -= share[i];
  }
  return N - 1;
}

std::vector<double> to_cdf(std::vector<double> weights) {
  double total = 0;
  for (double& w : weights) {
    total += w;
    w = total;
  }
  for (double& w : weights) w /= total;
  return weights;
}

// Adds a random vector of expected norm `norm` to v (dim components).
void add_noise(double* v, int dim, double norm, Random& rng) {
  double stddev = norm / std::sqrt(static_cast<double>(dim));
  for (int k = 0; k < dim; ++k) v[k] += rng.normal(0, stddev);
}

double dot(const double* a, const double* b, int dim) {
  double s = 0;
  for (int k = 0; k < dim; ++k) s += a[k] * b[k];
  return s;
}

int hour_of(int64_t ts_ms) { return static_cast<int>((ts_ms / 3'600'000) % 24); }

// Finds x in [-30, 30] with f(x) = target for an increasing f.
double solve_increasing(const std::function<double(double)>& f, double target) {
  double lo = -30, hi = 30;
  for (int i = 0; i < 64; ++i) {
    double mid = 0.5 * (lo + hi);
    (f(mid) < target ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

struct SyntheticStream::Request {
  int64_t user = 0;
  int device = 0;
  int page = 0;
  int hour = 0;
  int64_t ts_ms = 0;
  std::vector<int64_t> slate;  // distinct items
};

Result<SyntheticStream> SyntheticStream::create(const SyntheticConfig& config) {
  auto bad = [](const std::string& key, const std::string& why) {
    return Error{"producer.synthetic." + key + ": " + why};
  };
  if (config.users <= 0) return bad("users", "must be positive");
  if (config.items <= 0) return bad("items", "must be positive");
  if (config.categories <= 0) return bad("categories", "must be positive");
  if (config.latent_dim <= 0 || config.latent_dim > 1024) return bad("latent_dim", "must be in [1, 1024]");
  if (config.impressions < 0) return bad("impressions", "must be >= 0");
  if (config.slate_size <= 0) return bad("slate_size", "must be positive");
  if (config.slate_size > config.items) {
    return bad("slate_size", "a slate holds distinct items, so it cannot exceed producer.synthetic.items (" +
                                 std::to_string(config.items) + ")");
  }
  if (config.mean_gap_ms < 0) return bad("mean_gap_ms", "must be >= 0");
  if (config.start_ts_ms < 0) return bad("start_ts_ms", "must be >= 0");
  if (!(config.base_ctr > 0 && config.base_ctr < 1)) return bad("base_ctr", "must be in (0, 1)");
  if (!(config.base_cvr > 0 && config.base_cvr < 1)) return bad("base_cvr", "must be in (0, 1)");
  if (config.delays != "short" && config.delays != "realistic") return bad("delays", "must be short or realistic");
  for (auto [key, value] : {std::pair{"click_delay_fast_median_s", config.click_delay_fast_median_s},
                            std::pair{"click_delay_slow_median_s", config.click_delay_slow_median_s},
                            std::pair{"click_delay_max_s", config.click_delay_max_s},
                            std::pair{"purchase_delay_fast_median_s", config.purchase_delay_fast_median_s},
                            std::pair{"purchase_delay_slow_median_s", config.purchase_delay_slow_median_s},
                            std::pair{"purchase_delay_max_s", config.purchase_delay_max_s}}) {
    if (!(value > 0)) return bad(key, "must be > 0");
  }
  for (auto [key, value] : {std::pair{"click_delay_slow_share", config.click_delay_slow_share},
                            std::pair{"purchase_delay_slow_share", config.purchase_delay_slow_share},
                            std::pair{"drift_share", config.drift_share}, std::pair{"drift_at", config.drift_at}}) {
    if (!(value >= 0 && value <= 1)) return bad(key, "must be in [0, 1]");
  }
  if (!(config.churn_share >= 0 && config.churn_share <= 0.45)) return bad("churn_share", "must be in [0, 0.45]");
  int64_t churned = std::llround(config.churn_share * static_cast<double>(config.items));
  if (config.slate_size > config.items - 2 * churned) {
    return bad("slate_size", "with churn_share, as few as items - 2 x churn_share x items (" +
                                 std::to_string(config.items - 2 * churned) +
                                 ") items may be on sale, fewer than a slate");
  }
  SyntheticStream stream(config);
  stream.build_world();
  stream.calibrate();
  return stream;
}

SyntheticStream::SyntheticStream(const SyntheticConfig& config)
    : config_(config),
      rng_(static_cast<uint64_t>(config.seed)),
      dim_(static_cast<int>(config.latent_dim)),
      delay_rng_(static_cast<uint64_t>(config.seed) ^ kDelaySeed),
      next_request_ts_ms_(config.start_ts_ms) {}

void SyntheticStream::build_world() {
  const int64_t n_items = config_.items, n_users = config_.users, n_cat = config_.categories;
  const int d = dim_;

  // Category centres: random unit vectors, and a mean log price each.
  std::vector<double> centres(n_cat * d);
  std::vector<double> category_log_price(n_cat);
  for (int64_t c = 0; c < n_cat; ++c) {
    double* v = &centres[c * d];
    double norm = 0;
    for (int k = 0; k < d; ++k) {
      v[k] = rng_.normal();
      norm += v[k] * v[k];
    }
    norm = std::sqrt(norm);
    for (int k = 0; k < d; ++k) v[k] /= norm > 0 ? norm : 1;
    category_log_price[c] = rng_.uniform(kCategoryLogPriceLo, kCategoryLogPriceHi);
  }

  // Items.
  item_category_.resize(n_items);
  item_latent_.assign(n_items * d, 0);
  item_purchase_.assign(n_items * d, 0);
  item_bias_.resize(n_items);
  item_log_price_.resize(n_items);
  catalog_.resize(n_items);
  double log_price_sum = 0;
  for (int64_t i = 0; i < n_items; ++i) {
    int64_t c = static_cast<int64_t>(rng_.below(n_cat));
    item_category_[i] = c;
    double* v = &item_latent_[i * d];
    std::copy_n(&centres[c * d], d, v);
    add_noise(v, d, kItemNoise, rng_);
    double* w = &item_purchase_[i * d];
    for (int k = 0; k < d; ++k) w[k] = 0.5 * v[k];
    add_noise(w, d, kItemNoise, rng_);
    item_bias_[i] = rng_.normal(0, kItemBiasStddev);
    double price = std::max(0.5, std::round(std::exp(rng_.normal(category_log_price[c], kItemLogPriceStddev)) * 100) / 100);
    item_log_price_[i] = std::log(price);
    log_price_sum += item_log_price_[i];
    Item& item = catalog_[i];
    item.item_id = make_id('i', i);
    item.category = make_id('c', c);
    item.price = price;
    item.available = true;
    item.ts_ms = config_.start_ts_ms;
  }
  mean_log_price_ = log_price_sum / n_items;

  // Popularity: Zipf over a random ranking of the items.
  std::vector<int64_t> rank(n_items);
  for (int64_t i = 0; i < n_items; ++i) rank[i] = i;
  for (int64_t i = n_items - 1; i > 0; --i) std::swap(rank[i], rank[rng_.below(i + 1)]);
  std::vector<double> popularity(n_items);
  for (int64_t i = 0; i < n_items; ++i) popularity[i] = std::pow(static_cast<double>(rank[i] + 1), -kZipfExponent);
  item_popularity_cdf_ = to_cdf(std::move(popularity));

  // Users: a taste mixing 1-3 favourite categories, a usual device, an activity.
  user_taste_.assign(n_users * d, 0);
  user_device_.resize(n_users);
  std::vector<double> activity(n_users);
  for (int64_t u = 0; u < n_users; ++u) {
    draw_taste(centres, &user_taste_[u * d], rng_);
    user_device_[u] = sample_share(kDeviceShare, rng_);
    activity[u] = std::exp(rng_.normal(0, kActivityStddev));
  }
  user_activity_cdf_ = to_cdf(std::move(activity));
  plan_drift_and_churn(centres);
}

// A taste mixing 1-3 favourite categories' centres, plus noise; `taste` is
// dim zeros on entry.
void SyntheticStream::draw_taste(const std::vector<double>& centres, double* taste, Random& rng) const {
  const int64_t n_cat = config_.categories;
  const int d = dim_;
  double r = rng.uniform();
  int favourites = r < 0.5 ? 1 : r < 0.8 ? 2 : 3;
  favourites = static_cast<int>(std::min<int64_t>(favourites, n_cat));
  int64_t chosen[3] = {-1, -1, -1};
  double weights[3] = {0, 0, 0};
  double total = 0;
  for (int f = 0; f < favourites; ++f) {
    int64_t c;
    do c = static_cast<int64_t>(rng.below(n_cat));
    while (std::find(chosen, chosen + f, c) != chosen + f);
    chosen[f] = c;
    weights[f] = rng.uniform(0.5, 1.5);
    total += weights[f];
  }
  for (int f = 0; f < favourites; ++f) {
    for (int k = 0; k < d; ++k) taste[k] += weights[f] / total * centres[chosen[f] * d + k];
  }
  add_noise(taste, d, kUserNoise, rng);
}

// Who drifts and to what; which items launch and retire, and when (at an
// impression count). Each from a generator of its own.
void SyntheticStream::plan_drift_and_churn(const std::vector<double>& centres) {
  const int64_t n_items = config_.items, n_users = config_.users;
  on_sale_.assign(n_items, 1);
  if (config_.drift_share > 0) {
    Random rng(static_cast<uint64_t>(config_.seed) ^ kDriftSeed);
    drifted_taste_.assign(n_users * dim_, 0);
    for (int64_t u = 0; u < n_users; ++u) {
      bool drifts = rng.bernoulli(config_.drift_share);
      draw_taste(centres, &drifted_taste_[u * dim_], rng);  // drawn for everyone: the choice shifts no draw
      if (drifts) drifting_users_.push_back(u);
    }
    drift_impression_ = std::llround(config_.drift_at * static_cast<double>(config_.impressions));
  }
  int64_t churned = std::llround(config_.churn_share * static_cast<double>(n_items));
  if (churned > 0) {
    Random rng(static_cast<uint64_t>(config_.seed) ^ kChurnSeed);
    std::vector<int64_t> order(n_items);
    for (int64_t i = 0; i < n_items; ++i) order[i] = i;
    for (int64_t i = n_items - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    uint64_t span = static_cast<uint64_t>(std::max<int64_t>(config_.impressions, 1));
    for (int64_t k = 0; k < 2 * churned; ++k) {
      bool launch = k < churned;  // the first `churned` launch, the next `churned` retire
      changes_.push_back(Change{static_cast<int64_t>(rng.below(span)), order[k], launch});
      if (launch) on_sale_[order[k]] = 0;
    }
    std::sort(changes_.begin(), changes_.end(), [](const Change& a, const Change& b) {
      return a.at_impression != b.at_impression ? a.at_impression < b.at_impression : a.item < b.item;
    });
  }
}

std::vector<Item> SyntheticStream::opening_catalog() const {
  std::vector<char> launched_later(catalog_.size(), 0);
  for (const Change& c : changes_) launched_later[c.item] |= c.launch;
  std::vector<Item> items;
  for (size_t i = 0; i < catalog_.size(); ++i) {
    if (!launched_later[i]) items.push_back(catalog_[i]);
  }
  return items;
}

SyntheticStream::Request SyntheticStream::draw_request(Random& rng, int64_t ts_ms, bool all_items) const {
  Request r;
  r.ts_ms = ts_ms;
  r.hour = hour_of(ts_ms);
  r.user = sample_cdf(user_activity_cdf_, rng);
  r.device = rng.bernoulli(kHomeDeviceShare) ? user_device_[r.user] : static_cast<int>(rng.below(3));
  r.page = sample_share(kPageShare, rng);
  r.slate.reserve(config_.slate_size);
  while (static_cast<int64_t>(r.slate.size()) < config_.slate_size) {
    int64_t item = sample_cdf(item_popularity_cdf_, rng);
    if (!all_items && !on_sale_[item]) continue;  // drawn again among the items on sale
    if (std::find(r.slate.begin(), r.slate.end(), item) == r.slate.end()) r.slate.push_back(item);
  }
  return r;
}

double SyntheticStream::click_logit(const Request& r, int64_t item) const {
  double context = kDeviceEffect[r.device] + kPageEffect[r.page] +
                   kHourEffect * std::cos(2 * std::numbers::pi * (r.hour - 20) / 24.0);
  return item_bias_[item] + kAffinityScale * dot(&user_taste_[r.user * dim_], &item_latent_[item * dim_], dim_) +
         context;
}

double SyntheticStream::purchase_logit(int64_t user, int64_t item) const {
  return kPurchaseScale * dot(&user_taste_[user * dim_], &item_purchase_[item * dim_], dim_) -
         kPriceEffect * (item_log_price_[item] - mean_log_price_);
}

ImpressionTruth SyntheticStream::probabilities(const Request& r, int64_t item) const {
  ImpressionTruth t;
  t.p_click = sigmoid(click_intercept_ + click_logit(r, item));
  t.p_cvr = sigmoid(purchase_intercept_ + purchase_logit(r.user, item));
  t.p_ctcvr = t.p_click * t.p_cvr;
  return t;
}

const char* SyntheticStream::usual_device(int64_t user) const { return kDevices[user_device_[user]]; }

ImpressionTruth SyntheticStream::truth_of(int64_t user, int64_t item, int64_t ts_ms) const {
  Request r;
  r.user = user;
  r.device = user_device_[user];
  r.page = 0;  // "home": kPageShare's largest
  r.hour = hour_of(ts_ms);
  r.ts_ms = ts_ms;
  return probabilities(r, item);
}

// Chooses a and b on a sample of requests drawn exactly as the stream draws
// them (from a separate generator, so the stream itself is unaffected) over
// the same span of event time:
// mean sigmoid(a + click_logit) = base_ctr, and the click-weighted mean of
// sigmoid(b + purchase_logit) = base_cvr.
void SyntheticStream::calibrate() {
  Random rng(static_cast<uint64_t>(config_.seed) ^ 0x243f6a8885a308d3ULL);
  std::vector<double> click, purchase;
  // Spread over the event time the stream will span, so the hours of day
  // (a context effect) weigh as they will in the stream.
  double requests = std::ceil(static_cast<double>(config_.impressions) / config_.slate_size);
  double span_ms = requests * config_.mean_gap_ms;
  for (int n = 0; n < kCalibrationRequests; ++n) {
    int64_t offset = std::llround(span_ms * (n + 0.5) / kCalibrationRequests);
    Request r = draw_request(rng, config_.start_ts_ms + offset, /*all_items=*/true);
    for (int64_t item : r.slate) {
      click.push_back(click_logit(r, item));
      purchase.push_back(purchase_logit(r.user, item));
    }
  }
  auto mean_ctr = [&](double a) {
    double s = 0;
    for (double l : click) s += sigmoid(a + l);
    return s / click.size();
  };
  click_intercept_ = solve_increasing(mean_ctr, config_.base_ctr);
  std::vector<double> weight(click.size());
  double total = 0;
  for (size_t j = 0; j < click.size(); ++j) total += weight[j] = sigmoid(click_intercept_ + click[j]);
  auto mean_cvr = [&](double b) {
    double s = 0;
    for (size_t j = 0; j < purchase.size(); ++j) s += weight[j] * sigmoid(b + purchase[j]);
    return s / total;
  };
  purchase_intercept_ = solve_increasing(mean_cvr, config_.base_cvr);
}

namespace {

// A draw from a mixture of two log-normals (medians fast and slow, the slow
// one with probability slow_share), clamped to [kMinDelayMs, max].
int64_t mixture_delay_ms(Random& rng, double fast_median_s, double slow_median_s, double slow_share, double max_s) {
  bool slow = rng.uniform() < slow_share;
  double seconds = (slow ? slow_median_s : fast_median_s) * std::exp(kDelayLogStddev * rng.normal());
  double ms = std::min(seconds, max_s) * 1000;
  return std::max<int64_t>(kMinDelayMs, std::llround(ms));
}

}  // namespace

// With "short", the main generator's exponential draw; with "realistic", a
// draw of the delay generator (the main one's draw is made and unused, so the
// rest of the stream stays the same).
int64_t SyntheticStream::click_delay_ms(double exponential_draw) {
  if (config_.delays == "short") return 1000 + std::llround(std::min(exponential_draw, kClickDelayCapMs));
  return mixture_delay_ms(delay_rng_, config_.click_delay_fast_median_s, config_.click_delay_slow_median_s,
                          config_.click_delay_slow_share, config_.click_delay_max_s);
}

int64_t SyntheticStream::purchase_delay_ms(double exponential_draw) {
  if (config_.delays == "short") return 5000 + std::llround(std::min(exponential_draw, kPurchaseDelayCapMs));
  return mixture_delay_ms(delay_rng_, config_.purchase_delay_fast_median_s, config_.purchase_delay_slow_median_s,
                          config_.purchase_delay_slow_share, config_.purchase_delay_max_s);
}

// Launches and retirements due by now (an impression count), as items
// messages at `ts_ms` ahead of the request's impressions; and the drift.
void SyntheticStream::apply_due_changes(int64_t ts_ms) {
  while (next_change_ < changes_.size() && changes_[next_change_].at_impression <= impressions_started_) {
    const Change& c = changes_[next_change_++];
    on_sale_[c.item] = c.launch ? 1 : 0;
    GeneratedEvent message;
    message.item = catalog_[c.item];
    message.item->available = c.launch;
    message.item->ts_ms = ts_ms;
    ready_.push_back(std::move(message));
  }
  if (drift_impression_ >= 0 && impressions_started_ >= drift_impression_) {
    for (int64_t u : drifting_users_) {
      std::copy_n(&drifted_taste_[u * dim_], dim_, &user_taste_[u * dim_]);
    }
    drift_impression_ = -1;
  }
}

void SyntheticStream::schedule(Event event) {
  pending_.push_back(Pending{event.ts_ms, next_pending_seq_++, std::move(event)});
  std::push_heap(pending_.begin(), pending_.end(), kLaterFirst);
}

// Draws the next request, fills ready_ with its impressions and schedules the
// clicks and purchases they cause.
void SyntheticStream::start_request() {
  ready_.clear();
  ready_pos_ = 0;
  apply_due_changes(next_request_ts_ms_);
  Request r = draw_request(rng_, next_request_ts_ms_);
  std::string request_id = make_id('r', requests_started_++);
  std::string user_id = make_id('u', r.user);
  for (int64_t item : r.slate) {
    if (impressions_started_ == config_.impressions) break;
    ++impressions_started_;
    ImpressionTruth truth = probabilities(r, item);
    // Every draw happens whatever the outcome, so one impression's luck never
    // shifts the draws of the next.
    double click_u = rng_.uniform(), purchase_u = rng_.uniform();
    double click_draw = rng_.exponential(kClickDelayMeanMs), purchase_draw = rng_.exponential(kPurchaseDelayMeanMs);
    int64_t click_delay = click_delay_ms(click_draw), purchase_delay = purchase_delay_ms(purchase_draw);
    truth.clicked = click_u < truth.p_click;
    truth.purchased = truth.clicked && purchase_u < truth.p_cvr;

    GeneratedEvent impression;
    Event& ev = impression.event;
    ev.type = EventType::kImpression;
    ev.user_id = user_id;
    ev.item_id = catalog_[item].item_id;
    ev.ts_ms = r.ts_ms;
    ev.request_id = request_id;
    ev.context = {{"device", kDevices[r.device], false},
                  {"hour", std::to_string(r.hour), true},
                  {"page", kPages[r.page], false}};
    impression.truth = truth;

    if (truth.clicked) {
      Event click;
      click.type = EventType::kClick;
      click.user_id = user_id;
      click.item_id = ev.item_id;
      click.ts_ms = r.ts_ms + click_delay;
      click.request_id = request_id;
      if (truth.purchased) {
        Event purchase = click;
        purchase.type = EventType::kPurchase;
        purchase.ts_ms = click.ts_ms + purchase_delay;
        purchase.value = catalog_[item].price;
        schedule(std::move(purchase));
      }
      schedule(std::move(click));
    }
    ready_.push_back(std::move(impression));
  }
  next_request_ts_ms_ += std::llround(rng_.exponential(static_cast<double>(config_.mean_gap_ms)));
}

void SyntheticStream::emit(Event event, std::optional<ImpressionTruth> truth, GeneratedEvent& out) {
  out.event = std::move(event);
  out.event.event_id = make_id('e', next_event_id_++);
  out.truth = truth;
  out.item.reset();
}

bool SyntheticStream::next(GeneratedEvent& out) {
  if (ready_pos_ < ready_.size()) {
    GeneratedEvent& g = ready_[ready_pos_++];
    if (g.item) {
      out.event = Event{};
      out.truth.reset();
      out.item = std::move(g.item);
      return true;
    }
    emit(std::move(g.event), g.truth, out);
    return true;
  }
  bool more_requests = impressions_started_ < config_.impressions;
  if (!pending_.empty() && (!more_requests || pending_.front().ts_ms <= next_request_ts_ms_)) {
    std::pop_heap(pending_.begin(), pending_.end(), kLaterFirst);
    Event event = std::move(pending_.back().event);
    pending_.pop_back();
    emit(std::move(event), std::nullopt, out);
    return true;
  }
  if (!more_requests) return false;
  start_request();
  return next(out);
}

}  // namespace streamrec
