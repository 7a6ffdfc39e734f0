/* resample.h: the antialiased resize behind preprocessing and augmentation (private
 * to src/data/ and its tests).
 *
 * PIL's BILINEAR resize: separable, a triangle filter of support max(scale, 1) input
 * pixels each side, where scale = input / output size along the axis; output pixel i
 * is centred on input coordinate (i + 0.5) * scale; weights normalised to sum 1; the
 * source is clamped to the source rectangle (as if it had been cropped first, which is
 * what torchvision's resized_crop does). Works in float, 0..255. */
#pragma once

#include "data/image.h"

G_BEGIN_DECLS

/* Resamples the rectangle (sx, sy, sw, sh) of image to a dw x dh image and writes the
 * window (wx, wy, ww, wh) of that image to out as float (wh, ww, 3), values 0..255.
 * The rectangle must lie inside the image and the window inside dw x dh. */
void graft_resample_window (const GraftImage *image, int sx, int sy, int sw, int sh,
                            int dw, int dh, int wx, int wy, int ww, int wh, float *out);

/* Python's round(x / 2) for an integer x >= 0 (half to even): torchvision's centre
 * crop offset for a difference of x pixels. */
int graft_centre_offset (int difference);

G_END_DECLS
