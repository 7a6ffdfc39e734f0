/* graft-model-page.c: the Model page.
 *
 * The page edits the session's spec through the freeze map (blocks, cut), the layer list
 * (per-layer parameter overrides), the BatchNorm policy, the head designer and the
 * strategy presets, and follows ::spec-changed so that every part shows the same plan.
 *
 * The layer list is a GtkColumnView over GraftModelLayer items, a small private item
 * type (one per graph node of the selected block) kept in this file because nothing
 * else uses it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-model-page.h"

#include "graft-application.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "graft-format.h"
#include "graft-head-designer.h"
#include "graft-model-chooser.h"

/* ------------------------------------------------------------------------ */
/* GraftModelLayer: one row of the layer list                                */

#define GRAFT_TYPE_MODEL_LAYER (graft_model_layer_get_type ())
G_DECLARE_FINAL_TYPE (GraftModelLayer, graft_model_layer, GRAFT, MODEL_LAYER, GObject)

struct _GraftModelLayer
{
  GObject parent_instance;

  int node;
  char *name;             /* the node's name in the file */
  char *short_name;       /* what the list shows (short_layer_name) */
  char *operation;
  char *shape;
  char *parameters;       /* "864", "36.9 K", "—" (graft_format_count) */
  char *exact_parameters; /* "36,928" for the tooltip; NULL without parameters */
  gboolean has_parameters;
  gboolean batchnorm;
  /* State, from the spec (refresh_layer_states); ::changed follows. */
  gboolean trains;
  gboolean inconsistent;
  gboolean editable;
  const char *batchnorm_mode;
};

G_DEFINE_FINAL_TYPE (GraftModelLayer, graft_model_layer, G_TYPE_OBJECT)

static guint layer_changed_signal;

static void
graft_model_layer_finalize (GObject *object)
{
  GraftModelLayer *self = GRAFT_MODEL_LAYER (object);

  g_free (self->name);
  g_free (self->short_name);
  g_free (self->operation);
  g_free (self->shape);
  g_free (self->parameters);
  g_free (self->exact_parameters);
  G_OBJECT_CLASS (graft_model_layer_parent_class)->finalize (object);
}

static void
graft_model_layer_class_init (GraftModelLayerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = graft_model_layer_finalize;
  layer_changed_signal = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                       NULL, G_TYPE_NONE, 0);
}

static void
graft_model_layer_init (GraftModelLayer *self)
{
}

/* ------------------------------------------------------------------------ */
/* The page                                                                  */

enum { STRATEGY_BUTTONS = 5 };

struct _GraftModelPage
{
  AdwBin parent_instance;

  GtkStack *stack;
  GtkLabel *model_title;
  GtkLabel *model_subtitle;
  GtkSpinner *spinner;
  GtkWidget *choose_button;
  GtkToggleButton *strategy_buttons[STRATEGY_BUTTONS];
  GtkLabel *strategy_description;
  AdwLeaflet *leaflet;
  GtkWidget *details_button;
  GtkWidget *details_back_button;
  GtkWidget *epoch_box;
  GtkSpinButton *epoch_spin;
  GtkLabel *epoch_total;
  GtkAdjustment *epoch_adjustment;
  GtkToggleButton *measure_parameters;
  GtkToggleButton *measure_flops;
  GraftFreezeMap *freeze_map;
  GtkBox *legend_box;
  AdwPreferencesGroup *layers_group;
  GtkScrolledWindow *layers_scroller;
  GtkColumnView *layers_view;
  AdwComboRow *batchnorm_row;
  GraftHeadDesigner *head_designer;
  AdwPreferencesGroup *preprocessing_group;
  GtkSpinButton *prep_size_spin;
  GtkSpinButton *prep_resize_spin;
  AdwEntryRow *prep_mean_row;
  AdwEntryRow *prep_std_row;
  AdwComboRow *prep_channels_row;

  GraftSession *session;
  gulong model_changed_id;
  gulong spec_changed_id;

  GListStore *layers;           /* GraftModelLayer of the shown block */
  int shown_block;              /* -1: none; n_blocks: the head */
  GCancellable *loading;
  GtkFileChooserNative *chooser;
  GtkWidget *model_chooser;     /* GraftModelChooser, kept (hidden) so downloads go on */
  gboolean syncing;
};

G_DEFINE_FINAL_TYPE (GraftModelPage, graft_model_page, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { TOAST, MODEL_LOADED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* The order of the toggle buttons. */
static const GraftStrategy button_strategies[STRATEGY_BUTTONS] = {
  GRAFT_STRATEGY_FEATURE_EXTRACTION, GRAFT_STRATEGY_REPLACE_TOP, GRAFT_STRATEGY_FINE_TUNE,
  GRAFT_STRATEGY_PROGRESSIVE_ULMFIT, GRAFT_STRATEGY_PROGRESSIVE_FASTAI,
};

static const char *
strategy_explanation (GraftStrategy strategy)
{
  switch (strategy)
    {
    case GRAFT_STRATEGY_FEATURE_EXTRACTION:
      return _("Only the new head trains, on features computed once and cached, so a run takes seconds. "
               "Start here, above all with few images.");
    case GRAFT_STRATEGY_REPLACE_TOP:
      return _("The model’s top blocks (its last stage) are removed and a new perceptron head trains on "
               "what is left, which stays frozen. Use it when your images differ from the model’s; drag "
               "the cut to remove more or fewer blocks.");
    case GRAFT_STRATEGY_FINE_TUNE:
      return _("The top third of the blocks train with the head, ten times slower. "
               "Use it with a few hundred images per class or more.");
    case GRAFT_STRATEGY_PROGRESSIVE_ULMFIT:
      return _("Slow and gentle: the head trains first, then one more block joins each epoch, from the top "
               "down, each learning up to 2.6 times slower than the block above it and the lowest at least a "
               "hundredth of the head’s rate. Takes one epoch per block; suits small data sets.");
    case GRAFT_STRATEGY_PROGRESSIVE_FASTAI:
      return _("Quick: one epoch of the head alone, then every block at once at half the learning rate, each "
               "block lower learning a little slower, down to a hundredth of the head’s rate at the bottom. "
               "A strong default, as fastai’s fine_tune.");
    case GRAFT_STRATEGY_CUSTOM:
    default:
      return _("Your own plan: you changed which blocks train. Choose a strategy to start again from its "
               "preset.");
    }
}

char *
graft_model_page_find_starter_model (void)
{
  return graft_application_find_data ("models/graft-starter.onnx");
}

/* ------------------------------------------------------------------------ */
/* Layers                                                                    */

static char *
describe_operation (const graft_graph *graph, const graft_node *node)
{
  const graft_node_attributes *a = &node->attributes;

  switch (a->op)
    {
    case GRAFT_OP_ACTIVATION:
      if (a->activation.kind == GRAFT_ACTIVATION_CLIP && a->activation.alpha == 0 && a->activation.beta == 6)
        return g_strdup ("Clip (ReLU6)");
      return g_strdup (graft_node_op_name (node));
    case GRAFT_OP_CONV:
      {
        g_autoptr (GString) text = g_string_new (NULL);
        const graft_value *x = graft_graph_value (graph, node->inputs[0]);
        g_string_append_printf (text, "Conv %d×%d", a->conv.kh, a->conv.kw);
        if (a->conv.groups > 1 && x->shape.rank == 4 && a->conv.groups == x->shape.dims[1])
          /* Translators: a depthwise convolution, after "Conv 3×3". */
          g_string_append (text, _(", depthwise"));
        else if (a->conv.groups > 1)
          g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, ", %d group", ", %d groups", a->conv.groups),
                                  a->conv.groups);
        if (a->conv.stride_h > 1 || a->conv.stride_w > 1)
          g_string_append_printf (text, _(", stride %d"), MAX (a->conv.stride_h, a->conv.stride_w));
        return g_string_free (g_steal_pointer (&text), FALSE);
      }
    case GRAFT_OP_MAXPOOL:
    case GRAFT_OP_AVGPOOL:
      return g_strdup_printf ("%s %d×%d", graft_op_name (a->op), a->pool.kh, a->pool.kw);
    default:
      return g_strdup (graft_op_name (a->op));
    }
}

/* PyTorch's exporter names nodes by module path and op, "/layer2/layer2.0/downsample/
 * downsample.1/BatchNormalization": within the block "layer2.0", beside an Operation
 * column, "downsample.1" says it all. Names in that form (starting with '/') lose the
 * block's path, the trailing op and the module path repeated ("downsample/downsample.1");
 * other names are shown whole. The list's tooltip keeps the full name. */
static char *
short_layer_name (const char *name, const char *block)
{
  g_auto (GStrv) parts = NULL;
  g_autoptr (GPtrArray) kept = NULL;
  guint n, first = 0, last;

  if (name == NULL || name[0] != '/')
    return g_strdup (name);
  parts = g_strsplit (name + 1, "/", -1);
  n = g_strv_length (parts);
  for (guint i = 0; i < n; i++)
    if (block != NULL && strcmp (parts[i], block) == 0)
      first = i + 1;
  last = n;
  /* The op ("Conv", "Relu", "BatchNormalization"): a capital, no dot. */
  if (last - first >= 2 && g_ascii_isupper (parts[last - 1][0]) && strchr (parts[last - 1], '.') == NULL)
    last--;
  if (first >= last)
    return g_strdup (name);
  kept = g_ptr_array_new ();
  for (guint i = first; i < last; i++)
    {
      /* "downsample" before "downsample.1" says nothing more. */
      if (i + 1 < last && g_str_has_prefix (parts[i + 1], parts[i]) && parts[i + 1][strlen (parts[i])] == '.')
        continue;
      g_ptr_array_add (kept, parts[i]);
    }
  g_ptr_array_add (kept, NULL);
  return g_strjoinv ("/", (char **) kept->pdata);
}

static char *
describe_shape (const graft_shape *shape)
{
  g_autoptr (GString) text = g_string_new (NULL);

  /* Batch 1: the first dimension says nothing. */
  for (int d = 1; d < shape->rank; d++)
    g_string_append_printf (text, d == 1 ? "%" G_GINT64_FORMAT : " × %" G_GINT64_FORMAT, (gint64) shape->dims[d]);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Whether the node's parameters train at the map's epoch: the block's state, then the
 * per-parameter overrides. */
static void
layer_state (GraftModelPage *self, GraftModelLayer *layer, int block, gboolean *trains, gboolean *inconsistent)
{
  GraftModel *model = graft_session_get_model (self->session);
  GraftSessionSpec *spec = graft_session_get_spec (self->session);
  const graft_node *node = graft_graph_node (model->graph, layer->node);
  int epoch = graft_freeze_map_get_epoch (self->freeze_map);
  gboolean block_trains = graft_session_get_block_trains (self->session, block, epoch);
  int seen = 0, training = 0;

  for (int i = 0; i < node->n_inputs; i++)
    {
      const graft_value *value = graft_graph_value (model->graph, node->inputs[i]);
      gpointer override;
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      override = g_hash_table_lookup (spec->parameter_overrides, value->name);
      seen++;
      if (override == GINT_TO_POINTER (1) || (override == NULL && block_trains))
        training++;
    }
  *trains = seen > 0 ? training == seen : block_trains;
  *inconsistent = training > 0 && training < seen;
}

static void
refresh_layer_states (GraftModelPage *self)
{
  GraftSessionSpec *spec;
  GraftBatchNormPolicy policy;
  int cut, n;

  if (self->session == NULL || graft_session_get_model (self->session) == NULL || self->shown_block < 0
      || self->shown_block >= graft_session_get_n_blocks (self->session))
    return;
  spec = graft_session_get_spec (self->session);
  cut = graft_session_get_cut_block (self->session);
  policy = graft_session_spec_block_batchnorm (spec, graft_session_get_block (self->session, self->shown_block)->name);
  n = (int) g_list_model_get_n_items (G_LIST_MODEL (self->layers));
  for (int i = 0; i < n; i++)
    {
      g_autoptr (GraftModelLayer) layer = g_list_model_get_item (G_LIST_MODEL (self->layers), (guint) i);
      gboolean removed = self->shown_block > cut;

      layer_state (self, layer, self->shown_block, &layer->trains, &layer->inconsistent);
      layer->editable = layer->has_parameters && !removed;
      if (!layer->batchnorm)
        layer->batchnorm_mode = "";
      else if (removed)
        layer->batchnorm_mode = "—";
      else if (layer->trains)
        layer->batchnorm_mode = _("Batch statistics, learns");
      else if (policy == GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS)
        layer->batchnorm_mode = _("Batch statistics");
      else if (policy == GRAFT_BATCHNORM_RECALIBRATE)
        layer->batchnorm_mode = _("Recalibrated, then frozen");
      else
        layer->batchnorm_mode = _("Running statistics");
      g_signal_emit (layer, layer_changed_signal, 0);
    }
}

static void
update_layers_heading (GraftModelPage *self)
{
  int n_blocks = self->session != NULL ? graft_session_get_n_blocks (self->session) : 0;
  g_autofree char *title = NULL;
  g_autofree char *description = NULL;

  if (self->shown_block < 0 || n_blocks == 0)
    {
      adw_preferences_group_set_title (self->layers_group, _("Layers"));
      adw_preferences_group_set_description (self->layers_group, _("Select a block in the freeze map to see its layers."));
      gtk_widget_set_visible (GTK_WIDGET (self->layers_scroller), FALSE);
      return;
    }
  if (self->shown_block == n_blocks)
    {
      adw_preferences_group_set_title (self->layers_group, _("New Head"));
      adw_preferences_group_set_description (self->layers_group,
                                             _("The new head is not part of the pretrained network: design it below."));
      gtk_widget_set_visible (GTK_WIDGET (self->layers_scroller), FALSE);
      return;
    }
  {
    const GraftBlock *block = graft_session_get_block (self->session, self->shown_block);
    int layers = block->last_node - block->first_node + 1;
    g_autofree char *count = graft_format_count ((double) block->parameters);
    /* Translators: heading of the layer list, with the block's name. */
    title = g_strdup_printf (_("Layers of %s"), block->name);
    if (self->shown_block > graft_session_get_cut_block (self->session))
      description = g_strdup (_("This block is above the cut: it is removed and does not run. Drag the cut above "
                                "it to keep it."));
    else
      /* Translators: "9 layers, 8.8 K parameters. …" */
      description = g_strdup_printf (ngettext ("%d layer, %s parameters. Untick a layer to keep it frozen while "
                                               "its block trains, or tick it to train it alone.",
                                               "%d layers, %s parameters. Untick a layer to keep it frozen while "
                                               "its block trains, or tick it to train it alone.", layers),
                                     layers, count);
  }
  adw_preferences_group_set_title (self->layers_group, title);
  adw_preferences_group_set_description (self->layers_group, description);
  gtk_widget_set_visible (GTK_WIDGET (self->layers_scroller), TRUE);
}

static void sync_batchnorm_row (GraftModelPage *self);

static void
show_block (GraftModelPage *self, int block)
{
  GraftModel *model = self->session != NULL ? graft_session_get_model (self->session) : NULL;
  int n_blocks = self->session != NULL ? graft_session_get_n_blocks (self->session) : 0;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);

  self->shown_block = block;
  if (model != NULL && block >= 0 && block < n_blocks)
    {
      const GraftBlock *b = graft_session_get_block (self->session, block);
      for (int n = b->first_node; n <= b->last_node; n++)
        {
          const graft_node *node = graft_graph_node (model->graph, n);
          const GraftLayerInfo *info = &g_array_index (model->layers, GraftLayerInfo, n);
          GraftModelLayer *layer = g_object_new (GRAFT_TYPE_MODEL_LAYER, NULL);

          layer->node = n;
          layer->name = g_strdup (node->name != NULL && node->name[0] != '\0' ? node->name
                                  : graft_graph_value (model->graph, node->output)->name);
          layer->short_name = short_layer_name (layer->name, b->name);
          layer->operation = describe_operation (model->graph, node);
          layer->shape = describe_shape (&info->output_shape);
          layer->has_parameters = info->parameters > 0;
          layer->parameters = info->parameters > 0 ? graft_format_count ((double) info->parameters) : g_strdup ("—");
          layer->exact_parameters = info->parameters > 0 ? graft_format_count_exact (info->parameters) : NULL;
          layer->batchnorm = node->attributes.op == GRAFT_OP_BATCHNORM;
          g_ptr_array_add (items, layer);
        }
    }
  g_list_store_splice (self->layers, 0, g_list_model_get_n_items (G_LIST_MODEL (self->layers)), items->pdata,
                       items->len);
  refresh_layer_states (self);
  update_layers_heading (self);
  if (model != NULL)
    sync_batchnorm_row (self);
}

static void
on_block_selected (GraftModelPage *self, int block)
{
  show_block (self, block);
}

static void
set_layer_trains (GraftModelPage *self, GraftModelLayer *layer, gboolean trains)
{
  GraftModel *model = graft_session_get_model (self->session);
  GraftSessionSpec *spec = graft_session_get_spec (self->session);
  const graft_node *node = graft_graph_node (model->graph, layer->node);
  int epoch = graft_freeze_map_get_epoch (self->freeze_map);
  gboolean block_trains = graft_session_get_block_trains (self->session, self->shown_block, epoch);

  for (int i = 0; i < node->n_inputs; i++)
    {
      const graft_value *value = graft_graph_value (model->graph, node->inputs[i]);
      if (value->kind != GRAFT_VALUE_PARAMETER)
        continue;
      /* An override that says what the block says anyway is no override. */
      if (trains == block_trains)
        g_hash_table_remove (spec->parameter_overrides, value->name);
      else
        g_hash_table_insert (spec->parameter_overrides, g_strdup (value->name), GINT_TO_POINTER (trains ? 1 : 2));
    }
  graft_session_spec_changed (self->session);
}

/* Column factories. */

typedef enum { COLUMN_NAME, COLUMN_OPERATION, COLUMN_SHAPE, COLUMN_PARAMETERS, COLUMN_BATCHNORM } LabelColumn;

static void
label_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  LabelColumn column = GPOINTER_TO_INT (data);
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), column == COLUMN_PARAMETERS ? 1.0f : 0.0f);
  if (column == COLUMN_NAME)
    {
      /* Never narrower than a name can be read: the list scrolls sideways first. A long
       * name asks for no more than 24 characters (the tooltip has it whole), so that it
       * does not fold the page's leaflet on its own. */
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
      gtk_label_set_width_chars (GTK_LABEL (label), 12);
      gtk_label_set_max_width_chars (GTK_LABEL (label), 24);
      gtk_widget_add_css_class (label, "layer-name");
    }
  if (column == COLUMN_PARAMETERS || column == COLUMN_SHAPE)
    gtk_widget_add_css_class (label, "numeric");
  if (column == COLUMN_BATCHNORM)
    gtk_widget_add_css_class (label, "dim-label");
  gtk_list_item_set_child (item, label);
}

static void
update_batchnorm_label (GraftModelLayer *layer, GtkLabel *label)
{
  gtk_label_set_text (label, layer->batchnorm_mode != NULL ? layer->batchnorm_mode : "");
}

static void
label_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  LabelColumn column = GPOINTER_TO_INT (data);
  GraftModelLayer *layer = gtk_list_item_get_item (item);
  GtkLabel *label = GTK_LABEL (gtk_list_item_get_child (item));

  switch (column)
    {
    case COLUMN_NAME:
      gtk_label_set_text (label, layer->short_name);
      gtk_widget_set_tooltip_text (GTK_WIDGET (label), layer->name);
      break;
    case COLUMN_OPERATION:
      gtk_label_set_text (label, layer->operation);
      break;
    case COLUMN_SHAPE:
      gtk_label_set_text (label, layer->shape);
      break;
    case COLUMN_PARAMETERS:
      gtk_label_set_text (label, layer->parameters);
      gtk_widget_set_tooltip_text (GTK_WIDGET (label), layer->exact_parameters);
      gtk_widget_set_opacity (GTK_WIDGET (label), layer->has_parameters ? 1.0 : 0.45);
      break;
    case COLUMN_BATCHNORM:
      update_batchnorm_label (layer, label);
      g_signal_connect_object (layer, "changed", G_CALLBACK (update_batchnorm_label), label, 0);
      break;
    }
}

static void
label_unbind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GraftModelLayer *layer = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);

  if (layer != NULL)
    g_signal_handlers_disconnect_by_func (layer, update_batchnorm_label, label);
}

static void
update_check (GraftModelLayer *layer, GtkCheckButton *check)
{
  GraftModelPage *self = g_object_get_data (G_OBJECT (check), "page");
  g_autofree char *label = NULL;

  self->syncing = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (check), layer->has_parameters);
  gtk_widget_set_sensitive (GTK_WIDGET (check), layer->editable);
  gtk_check_button_set_inconsistent (check, layer->inconsistent);
  gtk_check_button_set_active (check, layer->trains && !layer->inconsistent);
  self->syncing = FALSE;
  /* Translators: accessible label of a layer's check box. */
  label = g_strdup_printf (_("Train %s"), layer->name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (check), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
on_check_toggled (GtkCheckButton *check, GraftModelPage *self)
{
  GraftModelLayer *layer = g_object_get_data (G_OBJECT (check), "layer");
  gboolean active = gtk_check_button_get_active (check);

  if (self->syncing || layer == NULL || self->session == NULL)
    return;
  if (active == layer->trains && !layer->inconsistent)
    return;
  set_layer_trains (self, layer, active);
}

/* The check box sits in a box as tall as itself, so that rows without one (layers
 * without parameters) are as tall as the others. */
static void
check_setup (GtkSignalListItemFactory *factory, GtkListItem *item, GraftModelPage *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  GtkWidget *check = gtk_check_button_new ();
  int height;

  gtk_widget_set_halign (check, GTK_ALIGN_CENTER);
  gtk_widget_set_hexpand (check, TRUE);
  g_object_set_data (G_OBJECT (check), "page", self);
  g_signal_connect (check, "toggled", G_CALLBACK (on_check_toggled), self);
  gtk_box_append (GTK_BOX (box), check);
  gtk_widget_measure (check, GTK_ORIENTATION_VERTICAL, -1, &height, NULL, NULL, NULL);
  gtk_widget_set_size_request (box, -1, height);
  gtk_list_item_set_child (item, box);
}

static void
check_bind (GtkSignalListItemFactory *factory, GtkListItem *item, GraftModelPage *self)
{
  GraftModelLayer *layer = gtk_list_item_get_item (item);
  GtkWidget *check = gtk_widget_get_first_child (gtk_list_item_get_child (item));

  g_object_set_data (G_OBJECT (check), "layer", layer);
  update_check (layer, GTK_CHECK_BUTTON (check));
  g_signal_connect_object (layer, "changed", G_CALLBACK (update_check), check, 0);
}

static void
check_unbind (GtkSignalListItemFactory *factory, GtkListItem *item, GraftModelPage *self)
{
  GraftModelLayer *layer = gtk_list_item_get_item (item);
  GtkWidget *check = gtk_widget_get_first_child (gtk_list_item_get_child (item));

  g_object_set_data (G_OBJECT (check), "layer", NULL);
  if (layer != NULL)
    g_signal_handlers_disconnect_by_func (layer, update_check, check);
}

static void
add_label_column (GraftModelPage *self, const char *title, LabelColumn column, gboolean expand)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  GtkColumnViewColumn *view_column;

  g_signal_connect (factory, "setup", G_CALLBACK (label_setup), GINT_TO_POINTER (column));
  g_signal_connect (factory, "bind", G_CALLBACK (label_bind), GINT_TO_POINTER (column));
  g_signal_connect (factory, "unbind", G_CALLBACK (label_unbind), GINT_TO_POINTER (column));
  view_column = gtk_column_view_column_new (title, factory);
  gtk_column_view_column_set_expand (view_column, expand);
  gtk_column_view_column_set_resizable (view_column, TRUE);
  gtk_column_view_append_column (self->layers_view, view_column);
  g_object_unref (view_column);
}

static void
setup_layers_view (GraftModelPage *self)
{
  GtkListItemFactory *factory;
  GtkColumnViewColumn *column;

  self->layers = g_list_store_new (GRAFT_TYPE_MODEL_LAYER);
  gtk_column_view_set_model (self->layers_view,
                             GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->layers)))));
  add_label_column (self, _("Layer"), COLUMN_NAME, TRUE);
  add_label_column (self, _("Operation"), COLUMN_OPERATION, FALSE);
  add_label_column (self, _("Output"), COLUMN_SHAPE, FALSE);
  add_label_column (self, _("Parameters"), COLUMN_PARAMETERS, FALSE);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (check_setup), self);
  g_signal_connect (factory, "bind", G_CALLBACK (check_bind), self);
  g_signal_connect (factory, "unbind", G_CALLBACK (check_unbind), self);
  /* Translators: column of the layer list: whether the layer's parameters train. */
  column = gtk_column_view_column_new (_("Trains"), factory);
  gtk_column_view_append_column (self->layers_view, column);
  g_object_unref (column);

  add_label_column (self, _("BatchNorm"), COLUMN_BATCHNORM, FALSE);
}

/* The freeze map's legend, in its colours. */

static void
draw_swatch (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer data)
{
  GraftModelPage *self = g_object_get_data (G_OBJECT (area), "page");
  graft_freeze_map_draw_swatch (self->freeze_map, cr, GPOINTER_TO_INT (data), 0, (height - 12) / 2.0, 12);
}

static void
setup_legend (GraftModelPage *self)
{
  static const char *const names[] = { N_("Frozen"), N_("Trainable"), N_("New head"), N_("Removed") };

  for (int state = GRAFT_FREEZE_MAP_FROZEN; state <= GRAFT_FREEZE_MAP_REMOVED; state++)
    {
      GtkWidget *item = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      GtkWidget *swatch = gtk_drawing_area_new ();
      GtkWidget *label = gtk_label_new (_(names[state]));

      gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (swatch), 12);
      gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (swatch), 16);
      g_object_set_data (G_OBJECT (swatch), "page", self);
      gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (swatch), draw_swatch, GINT_TO_POINTER (state), NULL);
      gtk_widget_add_css_class (label, "caption");
      gtk_box_append (GTK_BOX (item), swatch);
      gtk_box_append (GTK_BOX (item), label);
      gtk_box_append (self->legend_box, item);
    }
}

/* ------------------------------------------------------------------------ */
/* Model, strategy, spec                                                     */

static void
update_model_header (GraftModelPage *self)
{
  GraftModel *model = self->session != NULL ? graft_session_get_model (self->session) : NULL;
  const char *path;
  g_autofree char *base = NULL;
  g_autofree char *parameters = NULL;
  g_autoptr (GString) subtitle = g_string_new (NULL);
  const graft_value *input;
  int n_blocks;

  if (model == NULL)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "model");
  path = graft_session_get_model_path (self->session);
  if (graft_session_get_model_title (self->session) != NULL)
    base = g_strdup (graft_session_get_model_title (self->session));
  else
    base = path != NULL ? g_path_get_basename (path) : g_strdup (_("Untitled model"));
  if (g_str_has_suffix (base, ".onnx"))
    base[strlen (base) - 5] = '\0';
  gtk_label_set_text (self->model_title, base);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->model_title), path);

  input = graft_graph_value (model->graph, model->input);
  if (input->shape.rank == 4)
    {
      gint64 h = model->input_nhwc ? input->shape.dims[1] : input->shape.dims[2];
      gint64 w = model->input_nhwc ? input->shape.dims[2] : input->shape.dims[3];
      /* Translators: the model's input size, "224 × 224 input". */
      g_string_append_printf (subtitle, _("%d × %d input"), (int) w, (int) h);
      g_string_append (subtitle, " · ");
    }
  parameters = graft_format_count ((double) graft_graph_parameter_count (model->graph, false));
  n_blocks = graft_session_get_n_blocks (self->session);
  g_string_append_printf (subtitle, _("%s parameters"), parameters);
  g_string_append (subtitle, " · ");
  g_string_append_printf (subtitle, ngettext ("%d block", "%d blocks", n_blocks), n_blocks);
  if (model->producer_name != NULL && model->producer_name[0] != '\0')
    {
      g_string_append (subtitle, " · ");
      /* Translators: the program that wrote the ONNX file, "made with pytorch 2.1". */
      g_string_append_printf (subtitle, _("made with %s %s"), model->producer_name,
                              model->producer_version != NULL ? model->producer_version : "");
    }
  gtk_label_set_text (self->model_subtitle, g_strstrip (subtitle->str));
}

/* The BatchNorm row edits the shown block's policy: shown for a block that has a
 * BatchNorm and runs (not above the cut). */
static void
sync_batchnorm_row (GraftModelPage *self)
{
  const GraftBlock *block = NULL;
  gboolean has_batchnorm = FALSE;
  int n_blocks = graft_session_get_n_blocks (self->session);

  if (self->shown_block >= 0 && self->shown_block < n_blocks
      && self->shown_block <= graft_session_get_cut_block (self->session))
    block = graft_session_get_block (self->session, self->shown_block);
  for (int n = block != NULL ? block->first_node : 0; block != NULL && n <= block->last_node; n++)
    if (graft_graph_node (graft_session_get_model (self->session)->graph, n)->attributes.op == GRAFT_OP_BATCHNORM)
      has_batchnorm = TRUE;
  gtk_widget_set_visible (GTK_WIDGET (self->batchnorm_row), has_batchnorm);
  if (has_batchnorm)
    {
      GraftBatchNormPolicy policy = graft_session_spec_block_batchnorm (graft_session_get_spec (self->session),
                                                                        block->name);
      /* Translators: subtitle of the BatchNorm row, with the block's name. */
      g_autofree char *subtitle = g_strdup_printf (_("%s, while it is frozen"), block->name);
      gboolean syncing = self->syncing;
      self->syncing = TRUE;
      adw_action_row_set_subtitle (ADW_ACTION_ROW (self->batchnorm_row), subtitle);
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->batchnorm_row),
                                   _("Running statistics keep what the model learnt; recalibrate when your images "
                                     "look very different"));
      adw_combo_row_set_selected (self->batchnorm_row, policy == GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS ? 1
                                                       : policy == GRAFT_BATCHNORM_RECALIBRATE        ? 2
                                                                                                      : 0);
      self->syncing = syncing;
    }
}

static void sync_preprocessing (GraftModelPage *self);

static void
sync_from_spec (GraftModelPage *self)
{
  GraftSessionSpec *spec;
  gboolean stages;

  if (self->session == NULL)
    return;
  spec = graft_session_get_spec (self->session);
  self->syncing = TRUE;
  for (int i = 0; i < STRATEGY_BUTTONS; i++)
    gtk_toggle_button_set_active (self->strategy_buttons[i], button_strategies[i] == spec->strategy);
  gtk_label_set_text (self->strategy_description, strategy_explanation (spec->strategy));
  sync_batchnorm_row (self);
  /* The epoch matters when blocks unfreeze in stages. */
  stages = spec->n_stages > 1;
  gtk_widget_set_visible (self->epoch_box, stages);
  gtk_adjustment_set_upper (self->epoch_adjustment, MAX (spec->epochs, 1));
  {
    /* Translators: after the epoch, "Blocks that train at epoch [5] of 20". */
    g_autofree char *total = g_strdup_printf (_("of %d"), MAX (spec->epochs, 1));
    gtk_label_set_text (self->epoch_total, total);
  }
  if (!stages && graft_freeze_map_get_epoch (self->freeze_map) != 0)
    graft_freeze_map_set_epoch (self->freeze_map, 0);
  gtk_adjustment_set_value (self->epoch_adjustment, graft_freeze_map_get_epoch (self->freeze_map) + 1);
  sync_preprocessing (self);
  self->syncing = FALSE;
  refresh_layer_states (self);
  update_layers_heading (self);
}

static void
on_model_changed (GraftModelPage *self)
{
  update_model_header (self);
  sync_from_spec (self);
  /* Start on the block the head is grafted on: the first one a person thinks about. */
  if (self->session != NULL && graft_session_get_model (self->session) != NULL)
    graft_freeze_map_set_selected (self->freeze_map, graft_session_get_cut_block (self->session));
  show_block (self, graft_freeze_map_get_selected (self->freeze_map));
}

/* The buttons are not a GtkToggleButton group: a group always keeps one button active,
 * and a plan edited by hand (GRAFT_STRATEGY_CUSTOM) is none of the presets. */
static void
on_strategy_toggled (GraftModelPage *self, GtkToggleButton *button)
{
  GraftSessionSpec *spec;

  if (self->syncing || self->session == NULL)
    return;
  spec = graft_session_get_spec (self->session);
  for (int i = 0; i < STRATEGY_BUTTONS; i++)
    if (self->strategy_buttons[i] == button)
      {
        if (gtk_toggle_button_get_active (button))
          graft_session_set_strategy (self->session, button_strategies[i]);
        else if (spec->strategy == button_strategies[i])
          {
            /* A click on the current preset keeps it. */
            self->syncing = TRUE;
            gtk_toggle_button_set_active (button, TRUE);
            self->syncing = FALSE;
          }
      }
}

/* Folded (a narrow window), the freeze map and the details (layers, head, BatchNorm,
 * preprocessing) take the whole width in turn, with a button to go from one to the other. */
static void
on_folded_changed (GraftModelPage *self)
{
  gboolean folded = adw_leaflet_get_folded (self->leaflet);

  gtk_widget_set_visible (self->details_button, folded);
  gtk_widget_set_visible (self->details_back_button, folded);
}

static void
on_details_clicked (GraftModelPage *self)
{
  adw_leaflet_set_visible_child_name (self->leaflet, "details");
}

static void
on_details_back_clicked (GraftModelPage *self)
{
  adw_leaflet_set_visible_child_name (self->leaflet, "map");
}

static void
on_measure_toggled (GraftModelPage *self, GtkToggleButton *button)
{
  if (!gtk_toggle_button_get_active (button))
    return;
  graft_freeze_map_set_measure (self->freeze_map, button == self->measure_flops ? GRAFT_FREEZE_MAP_MEASURE_FLOPS
                                                                                 : GRAFT_FREEZE_MAP_MEASURE_PARAMETERS);
}

static void
on_epoch_changed (GraftModelPage *self, GtkSpinButton *spin)
{
  if (self->syncing)
    return;
  graft_freeze_map_set_epoch (self->freeze_map, gtk_spin_button_get_value_as_int (spin) - 1);
}

static void
on_map_epoch (GraftModelPage *self)
{
  gboolean syncing = self->syncing;

  self->syncing = TRUE;
  gtk_adjustment_set_value (self->epoch_adjustment, graft_freeze_map_get_epoch (self->freeze_map) + 1);
  self->syncing = syncing;
  refresh_layer_states (self);
}

static void
on_batchnorm_changed (GraftModelPage *self)
{
  static const GraftBatchNormPolicy policies[] = {
    GRAFT_BATCHNORM_FROZEN_INFERENCE, GRAFT_BATCHNORM_FROZEN_BATCH_STATISTICS, GRAFT_BATCHNORM_RECALIBRATE,
  };
  guint selected = adw_combo_row_get_selected (self->batchnorm_row);
  GraftSessionSpec *spec;
  const char *name;

  if (self->syncing || self->session == NULL || selected >= G_N_ELEMENTS (policies))
    return;
  spec = graft_session_get_spec (self->session);
  if (self->shown_block < 0 || self->shown_block >= graft_session_get_n_blocks (self->session))
    return;
  name = graft_session_get_block (self->session, self->shown_block)->name;
  if (graft_session_spec_block_batchnorm (spec, name) == policies[selected])
    return;
  graft_session_spec_set_block_batchnorm (spec, name, policies[selected]);
  graft_session_spec_changed (self->session);
}


/* ------------------------------------------------------------------------ */
/* Preprocessing                                                             */

/* "0.485, 0.456, 0.406" (C locale, so that it reads back anywhere). */
static char *
format_triple (const float v[3])
{
  char a[G_ASCII_DTOSTR_BUF_SIZE], b[G_ASCII_DTOSTR_BUF_SIZE], c[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup_printf ("%s, %s, %s", g_ascii_formatd (a, sizeof a, "%.4g", v[0]),
                          g_ascii_formatd (b, sizeof b, "%.4g", v[1]), g_ascii_formatd (c, sizeof c, "%.4g", v[2]));
}

/* Three numbers as people write them: "0.485, 0.456, 0.406", "0.5 0.5 0.5",
 * "0,485; 0,456; 0,406"; one number is all three. */
static gboolean
parse_triple (const char *text, float v[3])
{
  g_auto (GStrv) parts = g_regex_split_simple ("[;\\s]+|,\\s+", text, 0, 0);
  g_autoptr (GPtrArray) numbers = g_ptr_array_new ();

  for (int i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_ptr_array_add (numbers, parts[i]);
  if (numbers->len != 1 && numbers->len != 3)
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      char *part = g_ptr_array_index (numbers, numbers->len == 1 ? 0 : i);
      char *end = NULL;
      double value;
      g_strdelimit (part, ",", '.');
      value = g_ascii_strtod (part, &end);
      if (end == part || *end != '\0' || !isfinite (value))
        return FALSE;
      v[i] = (float) value;
    }
  return TRUE;
}

static gboolean
same_triple (const float a[3], const float b[3])
{
  for (int i = 0; i < 3; i++)
    if (fabsf (a[i] - b[i]) > 1e-6f * MAX (fabsf (a[i]), fabsf (b[i])))
      return FALSE;
  return TRUE;
}

/* Shows value in the entry unless its text already means it. */
static void
sync_triple (AdwEntryRow *row, const float value[3])
{
  float shown[3];
  if (!parse_triple (gtk_editable_get_text (GTK_EDITABLE (row)), shown) || !same_triple (shown, value))
    {
      g_autofree char *text = format_triple (value);
      gtk_editable_set_text (GTK_EDITABLE (row), text);
    }
  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
}

/* The spec's preprocessing in the rows, and where it came from. */
static void
sync_preprocessing (GraftModelPage *self)
{
  GraftModel *model = graft_session_get_model (self->session);
  const GraftPreprocessing *prep = &graft_session_get_spec (self->session)->preprocessing;
  const char *said = model != NULL && model->metadata != NULL
                         ? g_hash_table_lookup (model->metadata, GRAFT_METADATA_PREPROCESSING)
                         : NULL;
  GraftPreprocessing model_prep;
  const char *description;

  if (said != NULL && graft_preprocessing_from_json (said, &model_prep, NULL))
    description = memcmp (&model_prep, prep, sizeof model_prep) == 0
                      ? _("As the model’s file says. It goes with the model you export.")
                      : _("Changed from what the model’s file says. It goes with the model you export.");
  else
    description = _("The model’s file does not say how it wants its images: ImageNet’s normalisation at its "
                    "input size is assumed. Check it against the model’s documentation.");
  adw_preferences_group_set_description (self->preprocessing_group, description);
  gtk_spin_button_set_value (self->prep_size_spin, prep->size);
  gtk_spin_button_set_value (self->prep_resize_spin, graft_preprocessing_resize_side (prep));
  sync_triple (self->prep_mean_row, prep->mean);
  sync_triple (self->prep_std_row, prep->std);
  adw_combo_row_set_selected (self->prep_channels_row, prep->bgr ? 1 : 0);
}

static void
on_preprocessing_changed (GraftModelPage *self)
{
  GraftSessionSpec *spec;
  GraftPreprocessing prep;
  gboolean mean_ok, std_ok;

  if (self->syncing || self->session == NULL || graft_session_get_model (self->session) == NULL)
    return;
  spec = graft_session_get_spec (self->session);
  prep = spec->preprocessing;
  prep.size = gtk_spin_button_get_value_as_int (self->prep_size_spin);
  prep.resize = MAX (prep.size, gtk_spin_button_get_value_as_int (self->prep_resize_spin));
  mean_ok = parse_triple (gtk_editable_get_text (GTK_EDITABLE (self->prep_mean_row)), prep.mean);
  std_ok = parse_triple (gtk_editable_get_text (GTK_EDITABLE (self->prep_std_row)), prep.std)
           && prep.std[0] > 0 && prep.std[1] > 0 && prep.std[2] > 0;
  prep.bgr = adw_combo_row_get_selected (self->prep_channels_row) == 1;
  if (mean_ok)
    gtk_widget_remove_css_class (GTK_WIDGET (self->prep_mean_row), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->prep_mean_row), "error");
  if (std_ok)
    gtk_widget_remove_css_class (GTK_WIDGET (self->prep_std_row), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (self->prep_std_row), "error");
  if (!mean_ok || !std_ok || !graft_preprocessing_validate (&prep, NULL)
      || memcmp (&prep, &spec->preprocessing, sizeof prep) == 0)
    return;
  spec->preprocessing = prep;
  graft_session_spec_changed (self->session);
}

/* ------------------------------------------------------------------------ */
/* Choosing a model                                                          */

static void
set_loading (GraftModelPage *self, gboolean loading)
{
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), loading);
  gtk_spinner_set_spinning (self->spinner, loading);
  gtk_widget_set_sensitive (GTK_WIDGET (self->choose_button), !loading);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "model-page.import", !loading);
  if (loading)
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "model-page.load-starter", FALSE);
  else
    {
      g_autofree char *starter = graft_model_page_find_starter_model ();
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "model-page.load-starter", starter != NULL);
    }
}

static char *
explain_load_error (const char *path, const GError *error)
{
  g_autofree char *name = g_path_get_basename (path);

  if (error->domain == GRAFT_MODEL_ERROR)
    switch (error->code)
      {
      case GRAFT_MODEL_ERROR_PARSE:
        return g_strdup_printf (_("“%s” is not an ONNX model, or it is damaged"), name);
      case GRAFT_MODEL_ERROR_INVALID:
        return g_strdup_printf (_("“%s” is not a valid model: %s"), name, error->message);
      case GRAFT_MODEL_ERROR_UNSUPPORTED:
        return g_strdup_printf (_("“%s” uses something Graft cannot run yet: %s"), name, error->message);
      default:
        break;
      }
  return g_strdup_printf (_("Could not read “%s”: %s"), name, error->message);
}

typedef struct {
  GraftModelPage *page;
  char *path;
  GCancellable *cancellable;
} LoadData;

static void
on_model_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  LoadData *data = user_data;
  GraftModelPage *self = data->page;
  g_autoptr (GError) error = NULL;

  if (!graft_session_load_model_finish (GRAFT_SESSION (source), result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = explain_load_error (data->path, error);
          g_debug ("Cannot load %s: %s", data->path, error->message);
          g_signal_emit (self, signals[TOAST], 0, message);
        }
    }
  else
    g_signal_emit (self, signals[MODEL_LOADED], 0, data->path);
  /* Unless another load has started since. */
  if (self->loading != NULL && self->loading == data->cancellable)
    {
      g_clear_object (&self->loading);
      set_loading (self, FALSE);
    }
  g_object_unref (self);
  g_object_unref (data->cancellable);
  g_free (data->path);
  g_free (data);
}

void
graft_model_page_load_model (GraftModelPage *self, const char *path)
{
  LoadData *data;

  if (self->session == NULL)
    return;
  if (self->loading != NULL)
    g_cancellable_cancel (self->loading);
  g_clear_object (&self->loading);
  self->loading = g_cancellable_new ();
  set_loading (self, TRUE);
  data = g_new0 (LoadData, 1);
  data->page = g_object_ref (self);
  data->path = g_strdup (path);
  data->cancellable = g_object_ref (self->loading);
  graft_session_load_model_async (self->session, path, self->loading, on_model_loaded, data);
}

static void
action_load_starter (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (widget);
  g_autofree char *path = graft_model_page_find_starter_model ();

  if (path == NULL)
    {
      g_signal_emit (self, signals[TOAST], 0, _("The starter model is not installed"));
      return;
    }
  graft_model_page_load_model (self, path);
}

static void
on_chooser_response (GtkNativeDialog *dialog, int response, GraftModelPage *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file != NULL ? g_file_get_path (file) : NULL;
      if (path != NULL)
        graft_model_page_load_model (self, path);
      else
        g_signal_emit (self, signals[TOAST], 0, _("Graft can only open models stored on this computer"));
    }
  g_clear_object (&self->chooser);
}

static void
action_import (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();

  if (self->chooser != NULL)
    {
      gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
      return;
    }
  self->chooser = gtk_file_chooser_native_new (_("Import ONNX Model"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                               GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  gtk_file_filter_set_name (filter, _("ONNX models"));
  gtk_file_filter_add_suffix (filter, "onnx");
  gtk_file_filter_add_mime_type (filter, "application/onnx");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);
  gtk_file_chooser_set_filter (GTK_FILE_CHOOSER (self->chooser), filter);
  g_signal_connect (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
on_model_chosen (GraftModelPage *self, const char *path)
{
  graft_model_page_load_model (self, path);
}

static void
on_import_requested (GraftModelPage *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "model-page.import", NULL);
}

static void
on_chooser_toast (GraftModelPage *self, const char *message)
{
  g_signal_emit (self, signals[TOAST], 0, message);
}

static void
action_choose (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);

  if (self->model_chooser == NULL)
    {
      self->model_chooser = graft_model_chooser_new ();
      g_object_ref_sink (self->model_chooser);
      g_signal_connect_object (self->model_chooser, "model-chosen", G_CALLBACK (on_model_chosen), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->model_chooser, "import-requested", G_CALLBACK (on_import_requested), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->model_chooser, "toast", G_CALLBACK (on_chooser_toast), self, G_CONNECT_SWAPPED);
    }
  gtk_window_set_transient_for (GTK_WINDOW (self->model_chooser), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL);
  gtk_window_present (GTK_WINDOW (self->model_chooser));
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */

static void
disconnect_session (GraftModelPage *self)
{
  if (self->session == NULL)
    return;
  g_clear_signal_handler (&self->model_changed_id, self->session);
  g_clear_signal_handler (&self->spec_changed_id, self->session);
  g_clear_object (&self->session);
}

void
graft_model_page_set_session (GraftModelPage *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_MODEL_PAGE (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  disconnect_session (self);
  /* The map and the designer connect first, so they are up to date when the page looks. */
  graft_freeze_map_set_session (self->freeze_map, session);
  graft_head_designer_set_session (self->head_designer, session);
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed", G_CALLBACK (on_model_changed), self);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (sync_from_spec), self);
    }
  set_loading (self, FALSE);
  on_model_changed (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftSession *
graft_model_page_get_session (GraftModelPage *self)
{
  g_return_val_if_fail (GRAFT_IS_MODEL_PAGE (self), NULL);
  return self->session;
}

GraftFreezeMap *
graft_model_page_get_freeze_map (GraftModelPage *self)
{
  g_return_val_if_fail (GRAFT_IS_MODEL_PAGE (self), NULL);
  return self->freeze_map;
}

GtkWidget *
graft_model_page_new (void)
{
  return g_object_new (GRAFT_TYPE_MODEL_PAGE, NULL);
}

static void
graft_model_page_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_model_page_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_model_page_set_session (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_model_page_dispose (GObject *object)
{
  GraftModelPage *self = GRAFT_MODEL_PAGE (object);

  if (self->loading != NULL)
    g_cancellable_cancel (self->loading);
  g_clear_object (&self->loading);
  if (self->chooser != NULL)
    gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
  /* Its downloads stop, keeping what came for the next time. */
  if (self->model_chooser != NULL)
    gtk_window_destroy (GTK_WINDOW (self->model_chooser));
  g_clear_object (&self->model_chooser);
  disconnect_session (self);
  g_clear_object (&self->layers);
  G_OBJECT_CLASS (graft_model_page_parent_class)->dispose (object);
}

static void
graft_model_page_class_init (GraftModelPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = graft_model_page_get_property;
  object_class->set_property = graft_model_page_set_property;
  object_class->dispose = graft_model_page_dispose;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * GraftModelPage::toast:
   * @message: what to tell the person, in plain words
   */
  signals[TOAST] = g_signal_new ("toast", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                 G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[MODEL_LOADED] = g_signal_new ("model-loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                        NULL, G_TYPE_NONE, 1, G_TYPE_STRING);

  g_type_ensure (GRAFT_TYPE_FREEZE_MAP);
  g_type_ensure (GRAFT_TYPE_HEAD_DESIGNER);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-model-page.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, stack);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, model_title);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, model_subtitle);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, spinner);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, choose_button);
  gtk_widget_class_bind_template_child_full (widget_class, "strategy_feature_extraction", FALSE,
                                             G_STRUCT_OFFSET (GraftModelPage, strategy_buttons[0]));
  gtk_widget_class_bind_template_child_full (widget_class, "strategy_replace_top", FALSE,
                                             G_STRUCT_OFFSET (GraftModelPage, strategy_buttons[1]));
  gtk_widget_class_bind_template_child_full (widget_class, "strategy_fine_tune", FALSE,
                                             G_STRUCT_OFFSET (GraftModelPage, strategy_buttons[2]));
  gtk_widget_class_bind_template_child_full (widget_class, "strategy_ulmfit", FALSE,
                                             G_STRUCT_OFFSET (GraftModelPage, strategy_buttons[3]));
  gtk_widget_class_bind_template_child_full (widget_class, "strategy_fastai", FALSE,
                                             G_STRUCT_OFFSET (GraftModelPage, strategy_buttons[4]));
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, strategy_description);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, epoch_box);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, epoch_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, epoch_total);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, epoch_adjustment);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, measure_parameters);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, measure_flops);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, freeze_map);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, legend_box);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, layers_group);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, layers_scroller);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, layers_view);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, batchnorm_row);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, head_designer);
  gtk_widget_class_bind_template_callback (widget_class, on_strategy_toggled);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, leaflet);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, details_button);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, details_back_button);
  gtk_widget_class_bind_template_callback (widget_class, on_folded_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_details_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_details_back_clicked);
  gtk_widget_class_bind_template_callback (widget_class, on_preprocessing_changed);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, preprocessing_group);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, prep_size_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, prep_resize_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, prep_mean_row);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, prep_std_row);
  gtk_widget_class_bind_template_child (widget_class, GraftModelPage, prep_channels_row);
  gtk_widget_class_bind_template_callback (widget_class, on_measure_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_epoch_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_block_selected);
  gtk_widget_class_bind_template_callback (widget_class, on_batchnorm_changed);

  gtk_widget_class_install_action (widget_class, "model-page.load-starter", NULL, action_load_starter);
  gtk_widget_class_install_action (widget_class, "model-page.import", NULL, action_import);
  gtk_widget_class_install_action (widget_class, "model-page.choose", NULL, action_choose);
}

static void
graft_model_page_init (GraftModelPage *self)
{
  self->shown_block = -1;
  self->syncing = TRUE;
  gtk_widget_init_template (GTK_WIDGET (self));
  self->syncing = FALSE;
  setup_layers_view (self);
  setup_legend (self);
  on_folded_changed (self);
  g_signal_connect_swapped (self->freeze_map, "notify::epoch", G_CALLBACK (on_map_epoch), self);
  set_loading (self, FALSE);
  update_model_header (self);
  update_layers_heading (self);
}
