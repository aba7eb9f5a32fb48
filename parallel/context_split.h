#pragma once
// Context parallelism's zigzag split of a sequence (pure functions, no MPI).
//
// A sequence of T tokens is cut into 2 cp chunks of C = T / (2 cp) positions; cp rank c holds
// chunks c and 2 cp - 1 - c, as its slots 0 and 1. Under the causal mask chunk i costs about
// i + 1/2 chunk pairs of attention (and of the block-Toeplitz convolution), so the two chunks of
// every rank cost (c + 1/2) + (2 cp - 1 - c + 1/2) = 2 cp together: the ranks' work is equal.
//
//   cp = 2, T = 8 C / 2:   positions | 0 .. C-1 | C .. 2C-1 | 2C .. 3C-1 | 3C .. 4C-1 |
//                          chunk     |    0     |     1     |     2      |     3      |
//                          rank      |    0     |     1     |     1      |     0      |
//
// On a rank, a micro-batch of B sequences is held slot-major: [2 B, C, ...] where rows
// [a B, (a + 1) B) are slot a of the B sequences, so each slot is a contiguous [B, C, ...] block
// and the row-wise layers (norms, projections, FFN, mixer) run on all 2 B C rows at once.
#include <cstdint>

namespace pha::parallel {

struct ContextSplit {
  int size = 1;  // cp
  int rank = 0;  // cp rank

  int chunks() const { return 2 * size; }
  // The chunk held in slot 0 or 1 of cp rank r.
  int chunk(int slot) const { return chunk_of(rank, slot); }
  int chunk_of(int r, int slot) const { return slot == 0 ? r : 2 * size - 1 - r; }
  // The cp rank and slot holding chunk i.
  int owner(int chunk) const { return chunk < size ? chunk : 2 * size - 1 - chunk; }
  int slot_of(int chunk) const { return chunk < size ? 0 : 1; }
  // The sequence and global position of row `row` of this rank's micro-batch of B sequences of
  // T tokens: rows [2 B, C] slot-major as above (cp = 1: [B, T], row b T + p).
  struct RowPosition {
    int64_t sequence, position;
  };
  RowPosition row_position(int64_t row, int64_t B, int64_t T) const {
    if (size == 1) return {row / T, row % T};
    const int64_t C = T / chunks();
    const int slot = static_cast<int>(row / (B * C));
    return {(row / C) % B, chunk(slot) * C + row % C};
  }
};

// Whether some query of chunk qi sees some key of chunk ki (chunks of C positions), under the
// causal mask and a window (0 = full): keys at t - window + 1 .. t for the query at t.
inline bool chunk_sees(int qi, int ki, int64_t chunk_len, int64_t window) {
  if (ki > qi) return false;
  if (ki == qi || window <= 0) return true;
  // The closest pair: the first query of qi and the last key of ki.
  const int64_t gap =
      static_cast<int64_t>(qi) * chunk_len - (static_cast<int64_t>(ki) + 1) * chunk_len + 1;
  return gap < window;
}

// Whether cp rank q's queries see any key of cp rank k (so k must send q its keys and values).
inline bool rank_sees(const ContextSplit& split, int q, int k, int64_t chunk_len, int64_t window) {
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      if (chunk_sees(split.chunk_of(q, a), split.chunk_of(k, b), chunk_len, window)) return true;
  return false;
}

}  // namespace pha::parallel
