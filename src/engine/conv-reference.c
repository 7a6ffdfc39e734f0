/* conv-reference.c: Conv2d straight from the definition, in double precision.
 * Only tests use these; they trust that p went through graft_conv2d_setup. */
#include "engine/ops.h"

/* x is (N,C,H,W), w is (M,C/groups,KH,KW), bias is (M) or NULL, y is (N,M,OH,OW) */
void
graft_conv2d_forward_reference (const graft_conv2d_params *p, const double *x, const double *w,
                                const double *bias, double *y)
{
  int cg_count = p->c / p->groups, mg_count = p->m / p->groups;

  for (int n = 0; n < p->n; n++)
    for (int oc = 0; oc < p->m; oc++)
      for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++)
          {
            int g = oc / mg_count;
            double sum = bias != NULL ? bias[oc] : 0.0;
            for (int cg = 0; cg < cg_count; cg++)
              for (int ki = 0; ki < p->kh; ki++)
                for (int kj = 0; kj < p->kw; kj++)
                  {
                    int ic = g * cg_count + cg;
                    int iy = oy * p->stride_h - p->pad_top + ki * p->dilation_h;
                    int ix = ox * p->stride_w - p->pad_left + kj * p->dilation_w;
                    if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                      continue;
                    sum += x[(((size_t) n * p->c + ic) * p->h + iy) * p->w + ix]
                           * w[(((size_t) oc * cg_count + cg) * p->kh + ki) * p->kw + kj];
                  }
            y[(((size_t) n * p->m + oc) * p->oh + oy) * p->ow + ox] = sum;
          }
}

/* dy is (N,M,OH,OW); dx (N,C,H,W), dw (M,C/groups,KH,KW), dbias (M) accumulate; each may be NULL. */
void
graft_conv2d_backward_reference (const graft_conv2d_params *p, const double *x, const double *w,
                                 const double *dy, double *dx, double *dw, double *dbias)
{
  int cg_count = p->c / p->groups, mg_count = p->m / p->groups;

  for (int n = 0; n < p->n; n++)
    for (int oc = 0; oc < p->m; oc++)
      for (int oy = 0; oy < p->oh; oy++)
        for (int ox = 0; ox < p->ow; ox++)
          {
            int g = oc / mg_count;
            double d = dy[(((size_t) n * p->m + oc) * p->oh + oy) * p->ow + ox];
            if (dbias != NULL)
              dbias[oc] += d;
            for (int cg = 0; cg < cg_count; cg++)
              for (int ki = 0; ki < p->kh; ki++)
                for (int kj = 0; kj < p->kw; kj++)
                  {
                    int ic = g * cg_count + cg;
                    int iy = oy * p->stride_h - p->pad_top + ki * p->dilation_h;
                    int ix = ox * p->stride_w - p->pad_left + kj * p->dilation_w;
                    size_t xi, wi;
                    if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                      continue;
                    xi = (((size_t) n * p->c + ic) * p->h + iy) * p->w + ix;
                    wi = (((size_t) oc * cg_count + cg) * p->kh + ki) * p->kw + kj;
                    if (dx != NULL)
                      dx[xi] += w[wi] * d;
                    if (dw != NULL)
                      dw[wi] += x[xi] * d;
                  }
          }
}
