/* graft-head-designer.c: the head designer.
 *
 * Every edit is applied at once (graft_session_set_head), as GNOME settings are; the
 * designer follows ::spec-changed too, so a strategy preset that brings its own head
 * shows here. Hidden sizes are remembered while the type is Linear, so switching back
 * to a perceptron restores them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "graft-head-designer.h"

#include <glib/gi18n.h>

#include "graft-format.h"
#include "graft-freeze-map.h"
#include "model/surgery.h"

#define DEFAULT_HIDDEN 256
#define MAX_HIDDEN_SIZE 65536

struct _GraftHeadDesigner
{
  AdwBin parent_instance;

  AdwPreferencesGroup *group;
  AdwComboRow *kind_row;
  AdwExpanderRow *hidden_row;
  AdwComboRow *activation_row;
  AdwActionRow *batchnorm_row;
  GtkSwitch *batchnorm_switch;
  GtkSpinButton *dropout_spin;
  AdwActionRow *parameters_row;
  GtkLabel *parameters_label;

  GPtrArray *layer_rows;        /* AdwActionRow, one per hidden layer, in the expander */
  GPtrArray *layer_spins;       /* their GtkSpinButton */
  GtkWidget *add_row;

  GraftSession *session;
  gulong spec_changed_id;
  gulong model_changed_id;
  gulong datasets_changed_id;

  int n_hidden;                 /* what the controls show */
  int hidden[GRAFT_HEAD_MAX_HIDDEN];
  int remembered_n_hidden;      /* the perceptron's sizes, kept while Linear is chosen */
  int remembered_hidden[GRAFT_HEAD_MAX_HIDDEN];
  gboolean syncing;             /* controls are being set from the spec */
};

G_DEFINE_FINAL_TYPE (GraftHeadDesigner, graft_head_designer, ADW_TYPE_BIN)

enum { PROP_0, PROP_SESSION, N_PROPS };
static GParamSpec *properties[N_PROPS];

static const graft_activation_kind activations[] = {
  GRAFT_ACTIVATION_RELU, GRAFT_ACTIVATION_LEAKY_RELU, GRAFT_ACTIVATION_HARD_SWISH, GRAFT_ACTIVATION_SIGMOID,
};

static void apply (GraftHeadDesigner *self);

static void
read_head (GraftHeadDesigner *self, GraftHeadSpec *head)
{
  guint activation = adw_combo_row_get_selected (self->activation_row);

  memset (head, 0, sizeof *head);
  head->n_hidden = self->n_hidden;
  for (int i = 0; i < self->n_hidden; i++)
    head->hidden[i] = self->hidden[i];
  head->activation = activations[MIN (activation, G_N_ELEMENTS (activations) - 1)];
  head->dropout = (float) gtk_spin_button_get_value (self->dropout_spin);
  head->batchnorm = gtk_switch_get_active (self->batchnorm_switch);
}

static void
update_count (GraftHeadDesigner *self)
{
  GraftHeadSpec head;
  guint64 features = 0, count;
  int classes = 2;
  g_autofree char *shown = NULL;
  g_autofree char *exact = NULL;
  g_autofree char *subtitle = NULL;

  read_head (self, &head);
  if (!graft_freeze_map_head_inputs (self->session, &features, &classes) || features == 0)
    {
      gtk_label_set_text (self->parameters_label, "—");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->parameters_label), NULL);
      adw_action_row_set_subtitle (self->parameters_row, _("Choose a model to count them"));
      return;
    }
  count = graft_head_parameter_count (&head, features, classes);
  /* As the freeze map's head row shows it, the exact figure in the tooltip. */
  shown = graft_format_count ((double) count);
  exact = graft_format_count_exact (count);
  gtk_label_set_text (self->parameters_label, shown);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->parameters_label), exact);
  /* Translators: what the head's parameter count is for: "On 1280 features, for 2 classes". */
  subtitle = g_strdup_printf (ngettext ("On %d features, for %d class", "On %d features, for %d classes", classes),
                              (int) features, classes);
  adw_action_row_set_subtitle (self->parameters_row, subtitle);
}

static void
update_hidden_summary (GraftHeadDesigner *self)
{
  g_autoptr (GString) sizes = g_string_new (NULL);

  for (int i = 0; i < self->n_hidden; i++)
    g_string_append_printf (sizes, i == 0 ? "%d" : " → %d", self->hidden[i]);
  adw_expander_row_set_subtitle (self->hidden_row, sizes->str);
  gtk_widget_set_sensitive (self->add_row, self->n_hidden < GRAFT_HEAD_MAX_HIDDEN);
}

static void
on_layer_size_changed (GtkSpinButton *spin, GraftHeadDesigner *self)
{
  guint index;

  if (self->syncing || !g_ptr_array_find (self->layer_spins, spin, &index))
    return;
  self->hidden[index] = gtk_spin_button_get_value_as_int (spin);
  update_hidden_summary (self);
  apply (self);
}

static void rebuild_layer_rows (GraftHeadDesigner *self);

static gboolean
remove_layer_later (gpointer data)
{
  GraftHeadDesigner *self = data;
  int index = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (self), "remove-index"));

  if (index >= 0 && index < self->n_hidden)
    {
      for (int i = index; i < self->n_hidden - 1; i++)
        self->hidden[i] = self->hidden[i + 1];
      self->n_hidden--;
      if (self->n_hidden == 0)
        {
          /* No hidden layer left: the head is linear. */
          self->syncing = TRUE;
          adw_combo_row_set_selected (self->kind_row, 0);
          self->syncing = FALSE;
          gtk_widget_set_visible (GTK_WIDGET (self->hidden_row), FALSE);
          gtk_widget_set_visible (GTK_WIDGET (self->activation_row), FALSE);
          gtk_widget_set_visible (GTK_WIDGET (self->batchnorm_row), FALSE);
        }
      rebuild_layer_rows (self);
      apply (self);
    }
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
on_remove_layer (GtkButton *button, GraftHeadDesigner *self)
{
  GtkWidget *row = gtk_widget_get_ancestor (GTK_WIDGET (button), ADW_TYPE_ACTION_ROW);
  guint index;

  if (!g_ptr_array_find (self->layer_rows, row, &index))
    return;
  /* The button's row goes away with the rebuild: do it after this handler returns. */
  g_object_set_data (G_OBJECT (self), "remove-index", GINT_TO_POINTER ((int) index));
  g_idle_add (remove_layer_later, g_object_ref (self));
}

static void
on_add_layer (AdwActionRow *row, GraftHeadDesigner *self)
{
  int size;

  if (self->n_hidden >= GRAFT_HEAD_MAX_HIDDEN)
    return;
  size = self->n_hidden > 0 ? MAX (16, self->hidden[self->n_hidden - 1] / 2) : DEFAULT_HIDDEN;
  self->hidden[self->n_hidden++] = size;
  rebuild_layer_rows (self);
  apply (self);
}

static void
rebuild_layer_rows (GraftHeadDesigner *self)
{
  gboolean syncing = self->syncing;

  self->syncing = TRUE;
  for (guint i = 0; i < self->layer_rows->len; i++)
    adw_expander_row_remove (self->hidden_row, g_ptr_array_index (self->layer_rows, i));
  g_ptr_array_set_size (self->layer_rows, 0);
  g_ptr_array_set_size (self->layer_spins, 0);
  if (self->add_row != NULL)
    {
      adw_expander_row_remove (self->hidden_row, self->add_row);
      self->add_row = NULL;
    }

  for (int i = 0; i < self->n_hidden; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *spin = gtk_spin_button_new_with_range (1, MAX_HIDDEN_SIZE, 1);
      GtkWidget *remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
      g_autofree char *title = g_strdup_printf (_("Layer %d"), i + 1);
      g_autofree char *remove_label = g_strdup_printf (_("Remove layer %d"), i + 1);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Units"));
      gtk_spin_button_set_increments (GTK_SPIN_BUTTON (spin), 32, 128);
      gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (spin), TRUE);
      gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), self->hidden[i]);
      gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
      gtk_accessible_update_property (GTK_ACCESSIBLE (spin), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
      g_signal_connect (spin, "value-changed", G_CALLBACK (on_layer_size_changed), self);
      gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (remove, "flat");
      gtk_widget_add_css_class (remove, "circular");
      gtk_widget_set_tooltip_text (remove, remove_label);
      g_signal_connect (remove, "clicked", G_CALLBACK (on_remove_layer), self);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
      adw_expander_row_add_row (self->hidden_row, row);
      g_ptr_array_add (self->layer_rows, row);
      g_ptr_array_add (self->layer_spins, spin);
    }

  self->add_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->add_row), _("_Add Layer"));
  adw_preferences_row_set_use_underline (ADW_PREFERENCES_ROW (self->add_row), TRUE);
  adw_action_row_add_prefix (ADW_ACTION_ROW (self->add_row), gtk_image_new_from_icon_name ("list-add-symbolic"));
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (self->add_row), TRUE);
  g_signal_connect (self->add_row, "activated", G_CALLBACK (on_add_layer), self);
  adw_expander_row_add_row (self->hidden_row, self->add_row);
  update_hidden_summary (self);
  self->syncing = syncing;
}

static void
show_kind (GraftHeadDesigner *self, gboolean perceptron)
{
  gtk_widget_set_visible (GTK_WIDGET (self->hidden_row), perceptron);
  gtk_widget_set_visible (GTK_WIDGET (self->activation_row), perceptron);
  gtk_widget_set_visible (GTK_WIDGET (self->batchnorm_row), perceptron);
  /* The subtitle says when the chosen type fits (it spoke of Linear whatever the choice). */
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->kind_row),
                               perceptron ? _("A perceptron learns combinations of the features: for images unlike "
                                              "the model’s, or when its top blocks are removed")
                                          : _("A linear layer is enough when the features already separate the "
                                              "classes"));
}

static void
apply (GraftHeadDesigner *self)
{
  GraftHeadSpec head;

  update_count (self);
  if (self->syncing || self->session == NULL)
    return;
  read_head (self, &head);
  self->syncing = TRUE;
  graft_session_set_head (self->session, &head);
  self->syncing = FALSE;
}

static void
on_control_changed (GraftHeadDesigner *self)
{
  apply (self);
}

static void
on_kind_changed (GraftHeadDesigner *self)
{
  gboolean perceptron = adw_combo_row_get_selected (self->kind_row) == 1;

  if (self->syncing)
    return;
  if (perceptron && self->n_hidden == 0)
    {
      self->n_hidden = self->remembered_n_hidden > 0 ? self->remembered_n_hidden : 1;
      if (self->remembered_n_hidden > 0)
        memcpy (self->hidden, self->remembered_hidden, sizeof self->hidden);
      else
        self->hidden[0] = DEFAULT_HIDDEN;
    }
  else if (!perceptron && self->n_hidden > 0)
    {
      self->remembered_n_hidden = self->n_hidden;
      memcpy (self->remembered_hidden, self->hidden, sizeof self->hidden);
      self->n_hidden = 0;
    }
  show_kind (self, perceptron);
  rebuild_layer_rows (self);
  apply (self);
}

/* The controls from the session's head. */
static void
sync_from_spec (GraftHeadDesigner *self)
{
  const GraftHeadSpec *head;
  gboolean same_layers;

  if (self->syncing)
    {
      update_count (self);
      return;
    }
  if (self->session == NULL)
    return;
  head = &graft_session_get_spec (self->session)->head;
  self->syncing = TRUE;
  same_layers = head->n_hidden == self->n_hidden;
  self->n_hidden = CLAMP (head->n_hidden, 0, GRAFT_HEAD_MAX_HIDDEN);
  for (int i = 0; i < self->n_hidden; i++)
    self->hidden[i] = head->hidden[i];
  adw_combo_row_set_selected (self->kind_row, self->n_hidden > 0 ? 1 : 0);
  show_kind (self, self->n_hidden > 0);
  if (same_layers && self->layer_spins->len == (guint) self->n_hidden)
    {
      for (int i = 0; i < self->n_hidden; i++)
        gtk_spin_button_set_value (g_ptr_array_index (self->layer_spins, i), self->hidden[i]);
      update_hidden_summary (self);
    }
  else
    rebuild_layer_rows (self);
  for (guint i = 0; i < G_N_ELEMENTS (activations); i++)
    if (activations[i] == head->activation)
      adw_combo_row_set_selected (self->activation_row, i);
  gtk_switch_set_active (self->batchnorm_switch, head->batchnorm);
  gtk_spin_button_set_value (self->dropout_spin, head->dropout);
  self->syncing = FALSE;
  update_count (self);
}

static void
disconnect_session (GraftHeadDesigner *self)
{
  if (self->session == NULL)
    return;
  g_clear_signal_handler (&self->spec_changed_id, self->session);
  g_clear_signal_handler (&self->model_changed_id, self->session);
  g_clear_signal_handler (&self->datasets_changed_id, self->session);
  g_clear_object (&self->session);
}

void
graft_head_designer_set_session (GraftHeadDesigner *self, GraftSession *session)
{
  g_return_if_fail (GRAFT_IS_HEAD_DESIGNER (self));
  g_return_if_fail (session == NULL || GRAFT_IS_SESSION (session));

  if (self->session == session)
    return;
  disconnect_session (self);
  if (session != NULL)
    {
      self->session = g_object_ref (session);
      self->spec_changed_id = g_signal_connect_swapped (session, "spec-changed", G_CALLBACK (sync_from_spec), self);
      self->model_changed_id = g_signal_connect_swapped (session, "model-changed", G_CALLBACK (update_count), self);
      self->datasets_changed_id = g_signal_connect_swapped (session, "datasets-changed", G_CALLBACK (update_count), self);
      sync_from_spec (self);
    }
  update_count (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

GraftSession *
graft_head_designer_get_session (GraftHeadDesigner *self)
{
  g_return_val_if_fail (GRAFT_IS_HEAD_DESIGNER (self), NULL);
  return self->session;
}

GtkWidget *
graft_head_designer_new (void)
{
  return g_object_new (GRAFT_TYPE_HEAD_DESIGNER, NULL);
}

static void
graft_head_designer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GraftHeadDesigner *self = GRAFT_HEAD_DESIGNER (object);

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
graft_head_designer_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GraftHeadDesigner *self = GRAFT_HEAD_DESIGNER (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      graft_head_designer_set_session (self, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
graft_head_designer_dispose (GObject *object)
{
  GraftHeadDesigner *self = GRAFT_HEAD_DESIGNER (object);

  disconnect_session (self);
  g_clear_pointer (&self->layer_rows, g_ptr_array_unref);
  g_clear_pointer (&self->layer_spins, g_ptr_array_unref);
  G_OBJECT_CLASS (graft_head_designer_parent_class)->dispose (object);
}

static void
graft_head_designer_class_init (GraftHeadDesignerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = graft_head_designer_get_property;
  object_class->set_property = graft_head_designer_set_property;
  object_class->dispose = graft_head_designer_dispose;

  properties[PROP_SESSION] = g_param_spec_object ("session", NULL, NULL, GRAFT_TYPE_SESSION,
                                                  G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/graftlab/Graft/ui/graft-head-designer.ui");
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, group);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, kind_row);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, hidden_row);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, activation_row);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, batchnorm_row);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, batchnorm_switch);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, dropout_spin);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, parameters_row);
  gtk_widget_class_bind_template_child (widget_class, GraftHeadDesigner, parameters_label);
  gtk_widget_class_bind_template_callback (widget_class, on_kind_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_control_changed);
}

/* The type row shows the chosen type in a label that is never cut short: the row's own
 * label read "Multilayer per…" beside the long subtitle, which wraps instead. */
static void
whole_label_setup (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkWidget *label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_list_item_set_child (item, label);
}

static void
whole_label_bind (GtkSignalListItemFactory *factory, GtkListItem *item, gpointer data)
{
  GtkStringObject *string = gtk_list_item_get_item (item);
  gtk_label_set_label (GTK_LABEL (gtk_list_item_get_child (item)), gtk_string_object_get_string (string));
}

static void
graft_head_designer_init (GraftHeadDesigner *self)
{
  self->layer_rows = g_ptr_array_new ();
  self->layer_spins = g_ptr_array_new ();
  self->syncing = TRUE;
  gtk_widget_init_template (GTK_WIDGET (self));
  {
    /* The popover keeps the row's own items (with their check mark). */
    GtkListItemFactory *items = adw_combo_row_get_factory (self->kind_row);
    g_autoptr (GtkListItemFactory) whole = gtk_signal_list_item_factory_new ();
    g_signal_connect (whole, "setup", G_CALLBACK (whole_label_setup), NULL);
    g_signal_connect (whole, "bind", G_CALLBACK (whole_label_bind), NULL);
    if (items != NULL)
      adw_combo_row_set_list_factory (self->kind_row, items);
    adw_combo_row_set_factory (self->kind_row, whole);
  }
  rebuild_layer_rows (self);
  show_kind (self, FALSE);
  self->syncing = FALSE;
  update_count (self);
}
