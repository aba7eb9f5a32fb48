#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord framing uses it.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pha::io {

uint32_t crc32c(std::string_view bytes);
// TFRecord's masked form: rotate right by 15, add 0xa282ead8 (so a CRC over data holding CRCs
// does not degenerate).
uint32_t masked_crc32c(std::string_view bytes);

}  // namespace pha::io
