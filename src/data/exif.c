/* exif.c: the Orientation tag of EXIF, read by hand with every offset bounds-checked.
 *
 * A TIFF structure: "II" (little-endian) or "MM" (big-endian), 42, the offset of IFD0
 * (from the start of the TIFF header); an IFD is a 2-byte entry count, then 12-byte
 * entries (tag, type, count, value or offset). Orientation is tag 0x0112, type SHORT
 * (3), count 1, its value in the first two bytes of the value field. */
#include <string.h>

#include "data/image-private.h"

static guint
read16 (const guint8 *p, gboolean big_endian)
{
  return big_endian ? (guint) p[0] << 8 | p[1] : (guint) p[1] << 8 | p[0];
}

static guint32
read32 (const guint8 *p, gboolean big_endian)
{
  return big_endian ? (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3]
                    : (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

int
graft_exif_orientation_from_tiff (const guint8 *data, gsize size)
{
  gboolean big_endian;

  if (data == NULL || size < 8)
    return 1;
  if (data[0] == 'I' && data[1] == 'I')
    big_endian = FALSE;
  else if (data[0] == 'M' && data[1] == 'M')
    big_endian = TRUE;
  else
    return 1;
  if (read16 (data + 2, big_endian) != 42)
    return 1;

  const guint32 ifd = read32 (data + 4, big_endian);
  /* The count needs two bytes at ifd; compared without overflow. */
  if (ifd < 8 || ifd > size || size - ifd < 2)
    return 1;
  const guint count = read16 (data + ifd, big_endian);
  /* A count that claims more entries than the block holds means a broken block:
   * all of it is ignored (as PIL does), nothing past the end is read. */
  if ((gsize) count > (size - ifd - 2) / 12)
    return 1;

  for (gsize i = 0; i < count; i++)
    {
      const guint8 *entry = data + ifd + 2 + 12 * i;
      if (read16 (entry, big_endian) != 0x0112)
        continue;
      const guint type = read16 (entry + 2, big_endian);
      const guint32 n = read32 (entry + 4, big_endian);
      if (type != 3 || n != 1)
        return 1;
      const guint value = read16 (entry + 8, big_endian);
      return value >= 1 && value <= 8 ? (int) value : 1;
    }
  return 1;
}

int
graft_exif_orientation_from_app1 (const guint8 *data, gsize size)
{
  static const guint8 header[6] = { 'E', 'x', 'i', 'f', 0, 0 };

  if (data == NULL || size < sizeof header || memcmp (data, header, sizeof header) != 0)
    return 0;
  return graft_exif_orientation_from_tiff (data + sizeof header, size - sizeof header);
}
