// MovieLens ratings.csv: userId,movieId,rating,timestamp with a header;
// timestamp in seconds. Every rating is a click (the user chose to watch the
// film, whatever the stars): implicit feedback, as the field usually reads
// MovieLens for top-K recommendation. The rating must be a number 0-5.
// Given movies.csv (DatasetOptions::items_path), each film's genres are its
// category.
#include "producers/datasets/dataset_builder.h"

namespace streamrec::datasets {

CsvAdapter movielens_adapter() {
  CsvAdapter a;
  a.header = {"userId", "movieId", "rating", "timestamp"};
  a.min_columns = 4;
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    auto user = parse_id(f[0], "userId");
    if (!user.ok()) return user.error().message;
    auto item = parse_id(f[1], "movieId");
    if (!item.ok()) return item.error().message;
    auto rating = parse_number(f[2], "rating");
    if (!rating.ok()) return rating.error().message;
    if (*rating > 5) return "rating: " + f[2] + " is above 5";
    auto ts = parse_time(f[3], "s", "timestamp");
    if (!ts.ok()) return ts.error().message;
    out.add_item(*item, *ts);
    out.add_event(EventType::kClick, *user, *item, *ts);
    return std::nullopt;
  };
  return a;
}

// movies.csv: movieId,title,genres (titles quoted when they hold a comma).
// The genres as written ("Adventure|Animation|Children") are the category:
// films of the same mix, finer than one genre; "(no genres listed)" is none.
CsvAdapter movielens_items_adapter() {
  CsvAdapter a;
  a.header = {"movieId", "title", "genres"};
  a.min_columns = 3;
  a.map_row = [](const std::vector<std::string>& f, DatasetBuilder& out) -> std::optional<std::string> {
    auto item = parse_id(f[0], "movieId");
    if (!item.ok()) return item.error().message;
    if (f[2].size() > 128) return "genres: longer than 128 bytes";
    out.add_item(*item, 0, f[2] == "(no genres listed)" ? std::string_view{} : std::string_view{f[2]});
    return std::nullopt;
  };
  return a;
}

}  // namespace streamrec::datasets
