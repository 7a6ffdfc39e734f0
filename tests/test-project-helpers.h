/* test-project-helpers.h: temporary folders and small image files for the project
 * tests (tests/test-project-*.c). Static functions: each test includes it once. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

static G_GNUC_UNUSED void
remove_tree (const char *path)
{
  if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK) && g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      GDir *dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      if (dir != NULL)
        g_dir_close (dir);
    }
  g_remove (path);
}

static G_GNUC_UNUSED char *
make_temp_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("graft-project-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static G_GNUC_UNUSED void
make_parent (const char *path)
{
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
}

/* A width x height PNG whose pixels depend on seed (so different seeds, different hashes). */
static G_GNUC_UNUSED void
write_png (const char *path, int width, int height, guint seed)
{
  make_parent (path);
  g_autofree guint8 *rgb = g_malloc ((gsize) width * height * 3);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint8 *p = rgb + ((gsize) y * width + x) * 3;
        p[0] = (guint8) (x * 7 + seed * 13);
        p[1] = (guint8) (y * 5 + seed * 29);
        p[2] = (guint8) ((x ^ y) + seed * 3);
      }
  png_image png;
  memset (&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = (png_uint_32) width;
  png.height = (png_uint_32) height;
  png.format = PNG_FORMAT_RGB;
  g_assert_true (png_image_write_to_file (&png, path, 0, rgb, width * 3, NULL));
}

static G_GNUC_UNUSED void
write_jpeg (const char *path, int width, int height, guint seed)
{
  make_parent (path);
  FILE *file = fopen (path, "wb");
  g_assert_nonnull (file);
  struct jpeg_compress_struct info;
  struct jpeg_error_mgr error;
  info.err = jpeg_std_error (&error);
  jpeg_create_compress (&info);
  jpeg_stdio_dest (&info, file);
  info.image_width = (JDIMENSION) width;
  info.image_height = (JDIMENSION) height;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults (&info);
  jpeg_set_quality (&info, 90, TRUE);
  jpeg_start_compress (&info, TRUE);
  g_autofree guint8 *row = g_malloc ((gsize) width * 3);
  while (info.next_scanline < info.image_height)
    {
      int y = (int) info.next_scanline;
      for (int x = 0; x < width; x++)
        {
          row[x * 3] = (guint8) (x * 3 + seed * 11);
          row[x * 3 + 1] = (guint8) (y * 3 + seed * 17);
          row[x * 3 + 2] = (guint8) (128 + seed);
        }
      JSAMPROW rows[1] = { row };
      jpeg_write_scanlines (&info, rows, 1);
    }
  jpeg_finish_compress (&info);
  jpeg_destroy_compress (&info);
  fclose (file);
}

static G_GNUC_UNUSED void
write_bytes (const char *path, const void *data, gsize n)
{
  make_parent (path);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, data, (gssize) n, &error));
  g_assert_no_error (error);
}

static G_GNUC_UNUSED char *
copy_to (const char *source, const char *dest)
{
  g_autofree char *data = NULL;
  gsize n = 0;
  g_assert_true (g_file_get_contents (source, &data, &n, NULL));
  write_bytes (dest, data, n);
  return g_strdup (dest);
}
