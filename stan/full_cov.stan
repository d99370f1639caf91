// K-component mixture with full (or tied) covariance and joint components:
// multivariate normal components (student_t = 0) or multivariate Student-t
// components (student_t = 1),
//
//   p(y_n) = sum_k w_k MVN(y_n | mu_k, Sigma_k)      or   MVT(y_n | nu_k, mu_k, Sigma_k),
//   Sigma_k = diag(sigma_k) Omega_k diag(sigma_k).
//
// tied = 1 shares one covariance (sigma, Omega) among all components.
//
// Missing cells are integrated out exactly: rows are grouped by which cells
// are present, and each group uses the component's marginal over those
// columns (one Cholesky factor per group and component).
//
// Censored cells are exact. A row's only censored cell is integrated
// analytically: its conditional distribution given the row's other present
// cells is normal (or Student-t), and the row's term gains the log
// probability of the cell's bounds under it. With normal components a
// row whose only cells are two censored ones is integrated too: the
// probability of their rectangle under the component's bivariate normal
// marginal, a one-dimensional integral taken on 65 tanh-sinh nodes
// (pair_log_prob; with |correlation| > 0.9 on each of up to three pieces,
// cut where the inner probability steps), once per distinct rectangle.
// With integrate_pairs = 1 so are a row's two censored cells beside
// observed ones, under their bivariate normal distribution given the
// observed cells, row by row and component by component: in closed form
// (Owen's T function, quadrant_log_prob) where both cells are one-sided
// and that is exact to rounding in the row's density, else by the same
// quadrature (pair_pattern_terms). Exact where the latent values below
// would give a joint density whose mode is far from the posterior's
// (stanmix's optimize and ADVI), but slower per gradient than latent
// values, which NUTS samples correctly.
// Other rows with censored cells (two or more with Student-t components)
// use augmentation
// instead: each of those cells is a parameter (a latent true value,
// y_latent, in row-major order) bounded by its limit(s), with a flat
// density inside them. Integrating those latent values out gives the
// censored likelihood, so the marginal posterior of the model parameters
// is exact either way; but the joint density of latent values and
// parameters has a funnel (a component's correlation near +-1 with its
// rows' latent values on a line), which integrating removes.
//
// The ordered means (stepping from component `pivot`) and the priors on
// means and scales are as in normal_diag.stan; LKJ(lkj_eta) on each
// correlation matrix (default 2: mild shrinkage toward independence, no
// mass piled at +-1); gamma(nu_shape, nu_rate) on each nu >= 1 (student_t;
// as in student_t_diag.stan).
//
// Generated quantities: in rows with latent values, log_lik and
// membership_log_prob are those of the rows completed by the draw's latent
// values (the complete-data terms); other rows are exact. stanmix computes
// the exact ones for every row, with all censored cells integrated out,
// from the draws of the parameters.
//
// The weights have a dirichlet(alpha) prior. With every alpha >= 1 they are
// the simplex w_simplex; with an alpha below 1 (a sparse overfitted
// mixture) they are softmax(log_g) with exp(log_g) ~ gamma(alpha, 1), the
// same prior in a form NUTS samples well when components empty (see
// mixing_weights in mixture.stanfunctions).
//
// Run with CmdStan:  ./full_cov sample data file=full_cov.data.json \
//                        init=full_cov.init.json

functions {
#include mixture.stanfunctions
#include cells.stanfunctions
#include patterns.stanfunctions
}

data {
#include cell_table.standata
#include components.standata
  int<lower=0, upper=1> tied;           // 1: one covariance shared by all components [0]
  int<lower=0, upper=1> student_t;      // 1: multivariate Student-t components [0]
  vector<lower=0>[D] sigma_loc;         // prior median of the scales, lognormal [0.5]
  vector<lower=0>[D] sigma_scale;       // prior sd of log(scale) [1]
  real<lower=0> lkj_eta;                // LKJ shape of the correlation prior [2]
  real<lower=0> nu_shape;               // gamma prior on each nu (student_t = 1): shape [2]
  real<lower=0> nu_rate;                // ... and rate [0.05]
  int<lower=0> grainsize;               // rows per reduce_sum chunk (threads); 0: one chunk [0]
  int<lower=0, upper=1> integrate_pairs;  // 1: integrate a row's two censored cells beside observed ones (normal); 0: latent values [0; 1 for optimize and ADVI]
}

transformed data {
  if (min(mu_scale) <= 0 || min(alpha) <= 0) {
    reject("mu_scale and alpha must be positive (each entry), got ", mu_scale,
           " and ", alpha);
  }
  if (min(append_row(sigma_loc, sigma_scale)) <= 0) {
    reject("sigma_loc and sigma_scale must be positive, got ", sigma_loc,
           " and ", sigma_scale);
  }
  if (lkj_eta <= 0) {
    reject("lkj_eta must be positive, got ", lkj_eta);
  }
  if (student_t && (nu_shape <= 0 || nu_rate <= 0)) {
    reject("nu_shape and nu_rate must be positive, got ", nu_shape, " and ",
           nu_rate);
  }
  array[D - 1] int rest = other_dims(D, anchor);
  int J = tied ? 1 : K;                 // number of covariance matrices
  // observed values, 0 elsewhere (the cell table checked)
  matrix[N, D] y_obs = checked_values(y, observed, left_row, left_col, right_row,
                                      right_col, interval_row, interval_col,
                                      interval_lower, interval_upper);
  if (D > 30) {
    reject("full_cov.stan handles at most 30 columns, got D = ", D);
  }
  array[N, D] int kind = cell_kinds(N, D, left_row, left_col, right_row,
                                    right_col, interval_row, interval_col);
  array[N] int n_censored = censored_per_row(kind);
  matrix[N, D] cell_lower = rep_matrix(negative_infinity(), N, D);
  matrix[N, D] cell_upper = rep_matrix(positive_infinity(), N, D);
  cell_upper = fill_cells(cell_upper, left_row, left_col, left_limit);
  cell_lower = fill_cells(cell_lower, right_row, right_col, right_limit);
  cell_lower = fill_cells(cell_lower, interval_row, interval_col, interval_lower);
  cell_upper = fill_cells(cell_upper, interval_row, interval_col, interval_upper);

  // Rows whose censored cells are integrated (one; with normal components
  // also two, in a row with no observed cell or with integrate_pairs): the
  // first's column, kind and bounds, then the second's.
  array[N] int integrated = rep_array(0, N);
  for (n in 1:N) {
    integrated[n] = n_censored[n] == 1
                    || (!student_t && n_censored[n] == 2
                        && (integrate_pairs || sum(observed[n]) == 0));
  }
  array[N] int single_col = rep_array(0, N);
  array[N] int single_kind = rep_array(0, N);
  vector[N] single_lo = rep_vector(0, N);
  vector[N] single_hi = rep_vector(0, N);
  array[N] int pair_col = rep_array(0, N);
  array[N] int pair_kind = rep_array(0, N);
  vector[N] pair_lo = rep_vector(0, N);
  vector[N] pair_hi = rep_vector(0, N);
  // Rows with more: their censored cells are latent values, row by row.
  int n_latent = 0;
  for (n in 1:N) {
    n_latent += n_censored[n] > 0 && !integrated[n] ? n_censored[n] : 0;
  }
  array[n_latent] int latent_row;
  array[n_latent] int latent_col;
  vector[n_latent] latent_lower;
  vector[n_latent] latent_upper;
  matrix[N, D] valued = observed;       // cells that hold a value
  {
    int i = 0;
    for (n in 1:N) {
      for (d in 1:D) {
        if (kind[n, d] > 0 && integrated[n] && single_col[n] == 0) {
          single_col[n] = d;
          single_kind[n] = kind[n, d];
          single_lo[n] = cell_lower[n, d];
          single_hi[n] = cell_upper[n, d];
        } else if (kind[n, d] > 0 && integrated[n]) {
          pair_col[n] = d;
          pair_kind[n] = kind[n, d];
          pair_lo[n] = cell_lower[n, d];
          pair_hi[n] = cell_upper[n, d];
        } else if (kind[n, d] > 0) {
          i += 1;
          latent_row[i] = n;
          latent_col[i] = d;
          latent_lower[i] = cell_lower[n, d];
          latent_upper[i] = cell_upper[n, d];
          valued[n, d] = 1;
        }
      }
    }
  }
  vector[N] key = pattern_keys(valued, single_col, pair_col);
  array[N] int order = sort_indices_asc(key);
  int n_patterns = count_patterns(key, order);
  array[n_patterns, D + 5] int table = pattern_table(valued, single_col,
                                                     pair_col, key, order,
                                                     n_patterns);
  // quadrature nodes of the pairs' integrals: step 0.1, |t| <= 3.2
  matrix[65, 3] nodes = tanh_sinh_nodes(65, 0.1);
  // Rows with two integrated cells and every other cell missing have the
  // same probability when their rectangles are the same (columns, kinds
  // and bounds: per-column detection limits make them so): each distinct
  // rectangle is computed once, rect_count[u] times. A row is compared
  // with the last 100 distinct rectangles (all of them where limits are
  // per column; few comparisons where each row has its own).
  array[N] int rect_of = rep_array(0, N);
  array[N] int first_of = rep_array(0, N);  // the first row of each rectangle
  int n_rect = 0;
  for (n in 1:N) {
    if (pair_col[n] > 0 && sum(observed[n]) == 0) {
      int found = 0;
      for (u in max(1, n_rect - 99):n_rect) {
        int m = first_of[u];
        found += found == 0
                 && single_col[m] == single_col[n] && pair_col[m] == pair_col[n]
                 && single_kind[m] == single_kind[n]
                 && pair_kind[m] == pair_kind[n]
                 && single_lo[m] == single_lo[n] && single_hi[m] == single_hi[n]
                 && pair_lo[m] == pair_lo[n] && pair_hi[m] == pair_hi[n]
                 ? u : 0;
      }
      n_rect += found == 0;
      rect_of[n] = found == 0 ? n_rect : found;
      first_of[n_rect] = found == 0 ? n : first_of[n_rect];
    }
  }
  array[n_rect] int rect_count = rep_array(0, n_rect);
  array[n_rect] int rect_row = rep_array(0, n_rect);  // a row of each
  for (n in 1:N) {
    if (rect_of[n] > 0) {
      rect_count[rect_of[n]] += 1;
      rect_row[rect_of[n]] = n;
    }
  }
  // The likelihood is summed over the rows, in pattern order, with reduce_sum:
  // on threads when grainsize > 0, else as one chunk.
  array[N] int positions = linspaced_int_array(N, 1, N);
}

parameters {
  ordered[ordered_means ? K - pivot + 1 : 0] mu_anchor_ordered;  // ordered: anchor means, pivot up
  positive_ordered[ordered_means ? pivot - 1 : 0] mu_anchor_below;  // ordered: pivot's minus those below
  vector[ordered_means ? 0 : K] mu_anchor_free;      // anchor means when free
  matrix[K, D - 1] mu_rest;                          // means along the other columns
  matrix<lower=0>[J, D] sigma;                       // scales (sd per column)
  array[J] cholesky_factor_corr[D] L_corr;           // Cholesky factors of the correlations
  vector<lower=1>[student_t ? K : 0] nu;             // degrees of freedom (student_t = 1)
  simplex[min(alpha) < 1 ? 1 : K] w_simplex;         // mixing weights (every alpha >= 1)
  vector[min(alpha) < 1 ? K : 0] log_g;              // sparse: w = softmax(log_g)
  vector<lower=latent_lower, upper=latent_upper>[n_latent] y_latent;  // latent values
}

transformed parameters {
  simplex[K] w = mixing_weights(w_simplex, log_g);  // mixing weights
  matrix[K, D] mu = assemble_means(
    ordered_means ? ordered_from_pivot(mu_anchor_ordered, mu_anchor_below)
                  : mu_anchor_free,
    mu_rest, anchor, rest);  // component means
}

model {
  matrix[N, D] Y = fill_cells(y_obs, latent_row, latent_col, y_latent);
  to_vector(mu) ~ normal(to_vector(mu_loc), to_vector(mu_scale));
  for (d in 1:D) {
    sigma[:, d] ~ lognormal(log(sigma_loc[d]), sigma_scale[d]);
  }
  for (j in 1:J) {
    L_corr[j] ~ lkj_corr_cholesky(lkj_eta);
  }
  nu ~ gamma(nu_shape, nu_rate);
  mixing_weights_lp(w_simplex, log_g, alpha);
  array[J] matrix[D, D] L_full = scaled_factors(sigma, L_corr);
  vector[K] log_w = log_mixing_weights(w_simplex, log_g);
  target += reduce_sum(full_cov_rows, positions, grainsize > 0 ? grainsize : N,
                       Y, order, table, single_kind, single_lo, single_hi, mu,
                       L_full, nu, student_t, log_w);
  if (n_rect > 0) {
    matrix[n_rect, K] rect_lp = rectangle_log_probs(
      rect_row, single_col, single_kind, single_lo, single_hi, pair_col,
      pair_kind, pair_lo, pair_hi, nodes, mu, L_full);
    target += dot_product(to_vector(rect_count), rows_log_sum_exp(
      rect_lp + rep_matrix(log_w', n_rect)));
  }
  // rows with two integrated cells beside observed ones, by pattern
  for (p in 1:n_patterns) {
    if (table[p, 5] > 0 && table[p, 3] > 0) {
      int m = table[p, 3];
      array[table[p, 2] - table[p, 1] + 1] int rows_p
        = order[table[p, 1]:table[p, 2]];
      target += sum(rows_log_sum_exp(pair_pattern_terms(
        Y[rows_p], rows_p, m, table[p, 4], table[p, 5], table[p, 6:(5 + m)],
        single_kind, single_lo, single_hi, pair_kind, pair_lo, pair_hi, nodes,
        mu, L_full, log_w)));
    }
  }
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    matrix[N, D] Y = fill_cells(y_obs, latent_row, latent_col, y_latent);
    matrix[n_rect, K] rect_lp = rectangle_log_probs(
      rect_row, single_col, single_kind, single_lo, single_hi, pair_col,
      pair_kind, pair_lo, pair_hi, nodes, mu, scaled_factors(sigma, L_corr));
    matrix[N, K] lp = full_cov_log_terms(
      Y, order, table, single_kind, single_lo, single_hi, pair_kind, pair_lo,
      pair_hi, nodes, rect_of, rect_lp, mu, sigma, L_corr, nu, student_t,
      log_mixing_weights(w_simplex, log_g));
    if (compute_log_lik) {
      log_lik = rows_log_sum_exp(lp);
    }
    if (compute_membership) {
      membership_log_prob = membership_log_probs(lp);
    }
  }
}
