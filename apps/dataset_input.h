// Reading a dataset file for a command (produce --replay, train, learn
// --catalog): read_dataset with the config's CSV mapping, and the user told
// on stderr what was rejected, skipped or sorted. Returns nullopt after
// printing "<command>: <error>" when the file cannot be read at all.
#pragma once

#include <optional>
#include <string>

#include "core/config.h"
#include "producers/datasets/dataset.h"

namespace streamrec {

// The help of every command's `--items FILE` (DatasetOptions::items_path).
inline constexpr const char* kItemsFileHelp =
    "The file that describes the items: with --format jsonl an items JSONL, retailrocket its item_properties.csv "
    "(categories), movielens its movies.csv (genres as categories); other formats carry them in the events file";

// `items_flag` is the command's name for `items_path` (DatasetOptions):
// a retailrocket or movielens file read without one is told to the user by
// that name, as its items then have no categories.
std::optional<Dataset> read_dataset_or_report(const std::string& command, const std::string& path,
                                              const std::string& format, const Config& config,
                                              const std::string& items_path = "", const char* items_flag = "--items");

}  // namespace streamrec
