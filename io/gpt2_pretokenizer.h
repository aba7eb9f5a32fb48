#pragma once
// The GPT-2 pre-tokenisation, written out by hand for UTF-8 text:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// It cuts text into words; BPE merges never cross a word boundary. Letters, numbers and whitespace
// are classified by io/unicode_text.h. The pieces always concatenate back to the input, byte for
// byte, whatever the input (invalid UTF-8 bytes form pieces of the "other" class).
#include <functional>
#include <string_view>

namespace pha::io {

// Calls `emit` with each piece of `text`, in order; the pieces are views into `text`.
void gpt2_pretokenize(std::string_view text, const std::function<void(std::string_view)>& emit);

}  // namespace pha::io
