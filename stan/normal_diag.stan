// K-component normal mixture with diagonal (or spherical) covariance and
// joint components: each observation vector comes from ONE component,
//
//   p(y_n) = sum_k w_k prod_d Normal(y_nd | mu_kd, sigma_kd),
//
// evaluated as log_sum_exp over k of [log w_k + sum over the cells of row n
// of that cell's log term]. Cell terms:
//   observed        normal_lpdf(y | mu, sigma)
//   left-censored   normal_lcdf(limit | mu, sigma)    true value <= limit
//   right-censored  normal_lccdf(limit | mu, sigma)   true value >= limit
//   interval        log_diff_exp of the two lcdfs     lower <= value <= upper
//   missing         no term (exact for a diagonal covariance)
// D = 1 is the univariate mixture.
//
// Identifiability: with ordered_means = 1 the component means along column
// `anchor` are increasing; the other columns follow the labels the anchor
// fixes, because the components are joint. ordered_means = 0 gives the
// plain label-switching model. The increasing means are parameterised from
// component `pivot` (see ordered_from_pivot in mixture.stanfunctions):
// its mean, then log gaps stepping away from it. pivot = 1 is Stan's
// `ordered` type; stanmix takes the component with the most observed values
// in the anchor column at the MAP, so that a component whose values there
// are nearly all censored, whose mean only the prior bounds, lies at the
// end of the chain instead of moving every mean above it.
//
// spherical = 1 gives each component one scale shared by all columns
// (sigma_loc and sigma_scale then have one entry). sigma_known = 1 fixes
// the scales at sigma_value. independent_dims = 1 switches to the
// per-dimension model that treats the D columns as independent univariate
// mixtures (x may come from one component and y from another): the common
// mistake joint components avoid, kept so its failure can be shown.
//
// The weights have a dirichlet(alpha) prior. With every alpha >= 1 they are
// the simplex w_simplex; with an alpha below 1 (a sparse overfitted
// mixture) they are softmax(log_g) with exp(log_g) ~ gamma(alpha, 1), the
// same prior in a form NUTS samples well when components empty (see
// mixing_weights in mixture.stanfunctions).
//
// Every prior hyperparameter is data. stanmix standardizes each column
// before the fit, so its defaults (in brackets) are on that scale; give
// values in the units of each column when running this program directly.
//
// Run with CmdStan:  ./normal_diag sample data file=normal_diag.data.json \
//                        init=normal_diag.init.json

functions {
#include mixture.stanfunctions
#include cells.stanfunctions
}

data {
#include cell_table.standata
#include components.standata
  int<lower=0, upper=1> spherical;      // 1: one scale per component for all columns [0]
  int<lower=0, upper=1> sigma_known;    // 1: scales fixed at sigma_value; 0: estimated [0]
  matrix<lower=0>[sigma_known ? K : 0, D] sigma_value;  // the fixed scales (units of each column)
  vector<lower=0>[spherical ? 1 : D] sigma_loc;    // prior median of the scales, lognormal [0.5]
  vector<lower=0>[spherical ? 1 : D] sigma_scale;  // prior sd of log(scale) [1]
  int<lower=0, upper=1> independent_dims;  // 1: per-dimension (wrong) model; 0: joint components [0]
  int<lower=0> grainsize;               // rows per reduce_sum chunk (threads); 0: one chunk [0]
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
  if (sigma_known && min(sigma_value) <= 0) {
    reject("sigma_value must be positive (each entry), got ", sigma_value);
  }
  array[D - 1] int rest = other_dims(D, anchor);
  // observed values, 0 elsewhere (the cell table checked)
  matrix[N, D] y_obs = checked_values(y, observed, left_row, left_col, right_row,
                                      right_col, interval_row, interval_col,
                                      interval_lower, interval_upper);
  matrix[N, D] y_sq = square(y_obs);
  vector[N] n_observed = observed * rep_vector(1, D);
#include censored_list.standata
  // The joint likelihood is one matrix product of a design (data) and
  // coefficients (parameters), with the censored cells either among its
  // columns (cens_counts) or gathered by slot, summed over rows with
  // reduce_sum: on threads when grainsize > 0, else as one chunk.
  array[independent_dims ? 0 : N] int row_ids
    = linspaced_int_array(independent_dims ? 0 : N, 1, N);
  int masked = min(n_observed) < D;  // some cell unobserved: the design keeps the mask
  matrix[independent_dims ? 0 : N, 2 * D + 1 + (masked ? D : 0) + cols(cens_counts)] design;
  if (!independent_dims) {
    design = normal_diag_design(y_obs, y_sq, observed, cens_counts, masked);
  }
  real observed_const = -0.5 * log(2 * pi()) * sum(n_observed);  // per observed cell
  if (independent_dims && compute_membership) {
    reject("compute_membership needs joint components (independent_dims = 0): ",
           "per-dimension mixtures have no single component per row");
  }
}

parameters {
  ordered[ordered_means ? K - pivot + 1 : 0] mu_anchor_ordered;  // ordered: anchor means, pivot up
  positive_ordered[ordered_means ? pivot - 1 : 0] mu_anchor_below;  // ordered: pivot's minus those below
  vector[ordered_means ? 0 : K] mu_anchor_free;      // anchor means when free
  matrix[K, D - 1] mu_rest;                          // means along the other columns
  matrix<lower=0>[sigma_known ? 0 : K, spherical ? 1 : D] sigma_free;  // estimated scales
  simplex[min(alpha) < 1 ? 1 : K] w_simplex;         // mixing weights (every alpha >= 1)
  vector[min(alpha) < 1 ? K : 0] log_g;              // sparse: w = softmax(log_g)
}

transformed parameters {
  simplex[K] w = mixing_weights(w_simplex, log_g);  // mixing weights
  matrix[K, D] mu = assemble_means(
    ordered_means ? ordered_from_pivot(mu_anchor_ordered, mu_anchor_below)
                  : mu_anchor_free,
    mu_rest, anchor, rest);  // component means
  matrix[K, D] sigma;                                // component scales
  if (sigma_known) {
    sigma = sigma_value;
  } else if (spherical) {
    sigma = rep_matrix(sigma_free[:, 1], D);
  } else {
    sigma = sigma_free;
  }
}

model {
  vector[K] log_w = log_mixing_weights(w_simplex, log_g);
  to_vector(mu) ~ normal(to_vector(mu_loc), to_vector(mu_scale));
  for (d in 1:cols(sigma_free)) {
    sigma_free[:, d] ~ lognormal(log(sigma_loc[d]), sigma_scale[d]);
  }
  mixing_weights_lp(w_simplex, log_g, alpha);
  if (independent_dims) {
    target += sum(per_dimension_log_lik(
      y_obs, observed, cens_row, cens_key, cens_col, cens_kind, cens_lower,
      cens_upper, mu, sigma, log_w));
  } else {
    matrix[n_distinct, K] cens_terms = censored_term_matrix(
      cens_col, cens_kind, cens_lower, cens_upper, rep_vector(0, K), mu, sigma);
    matrix[cols(design), K] coef = normal_diag_coef(
      masked, mu, sigma, log_w, count_cells ? cens_terms : rep_matrix(0, 0, K));
    target += reduce_sum(normal_diag_rows, row_ids, grainsize > 0 ? grainsize : N,
                         design, coef, cens_slot, with_zero_row(cens_terms))
              + observed_const;
  }
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    vector[K] log_w = log_mixing_weights(w_simplex, log_g);
    if (independent_dims) {
      log_lik = per_dimension_log_lik(
        y_obs, observed, cens_row, cens_key, cens_col, cens_kind, cens_lower,
        cens_upper, mu, sigma, log_w);
    } else {
      matrix[N, K] lp = normal_diag_log_terms(
        y_obs, y_sq, observed, n_observed, cens_counts, cens_slot, cens_col,
        cens_kind, cens_lower, cens_upper, mu, sigma, log_w);
      if (compute_log_lik) {
        log_lik = rows_log_sum_exp(lp);
      }
      if (compute_membership) {
        membership_log_prob = membership_log_probs(lp);
      }
    }
  }
}
