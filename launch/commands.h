#pragma once
// Entry points of the subcommands listed in command_table.cpp.
#include <string>
#include <vector>

namespace pha::launch {

int run_check(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_ckpt(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);
int run_import(const std::vector<std::string>& args);
int run_plan(const std::vector<std::string>& args);
int run_sample(const std::vector<std::string>& args);
int run_study(const std::vector<std::string>& args);

}  // namespace pha::launch
