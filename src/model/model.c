/* model.c: the GraftModel itself: error domain, allocation, and reading a file. The
 * parsing is in onnx-import.c, the writing in onnx-export.c, the layers and blocks in
 * model-analysis.c. */
#include "config.h"
#include <glib/gi18n-lib.h>
#include "base/regular-file.h"
#include "model/model.h"
#include "model/model-private.h"

G_DEFINE_QUARK (graft-model-error-quark, graft_model_error)

GraftModel *
graft_model_new (void)
{
  GraftModel *model = g_new0 (GraftModel, 1);

  model->input = -1;
  model->output = -1;
  model->logits = -1;
  model->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return model;
}

void
graft_model_free (GraftModel *model)
{
  if (model == NULL)
    return;
  graft_graph_free (model->graph);
  g_free (model->input_name);
  g_free (model->output_name);
  g_free (model->producer_name);
  g_free (model->producer_version);
  g_free (model->graph_name);
  g_clear_pointer (&model->metadata, g_hash_table_unref);
  /* model-analysis.c gives blocks a clear function that frees their names. */
  g_clear_pointer (&model->blocks, g_array_unref);
  g_clear_pointer (&model->layers, g_array_unref);
  g_free (model);
}

GraftModel *
graft_model_load (const char *path, GError **error)
{
  g_autoptr (GMappedFile) file = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *base_dir = NULL;
  const guint8 *data;
  gsize size;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO,
                   _("%s: is a folder, not an ONNX file"), path);
      return NULL;
    }
  /* Mapped, not copied: the protobuf parser copies what it keeps anyway. Only a regular
   * file: a FIFO would block the open for ever. */
  file = graft_mapped_file_new (path, &local_error);
  if (file == NULL)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_IO,
                   _("cannot read %s: %s"), path, local_error->message);
      return NULL;
    }
  size = g_mapped_file_get_length (file);
  data = (const guint8 *) g_mapped_file_get_contents (file);
  if (data == NULL)
    data = (const guint8 *) "";
  base_dir = g_path_get_dirname (path);
  return graft_model_load_from_data (data, size, base_dir, path, error);
}
