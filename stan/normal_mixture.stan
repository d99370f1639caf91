// Univariate K-component normal mixture.
//
//   y_n ~ sum_k w_k Normal(mu_k, sigma_k),  n = 1..N
//
// Identifiability: with ordered_means = 1 (the default in stanmix) the
// component means are declared `ordered`, which removes the K! label
// permutations of the posterior. ordered_means = 0 gives the plain,
// label-switching model, kept so the failure can be reproduced.
//
// Every prior hyperparameter is data. stanmix standardizes y before the
// fit, so its defaults (in brackets) are on the standardized scale; give
// values in the units of y when running this program directly.
//
// Run with CmdStan:  ./normal_mixture sample data file=normal_mixture.data.json

functions {
#include mixture.stanfunctions
}

data {
  int<lower=1> N;                       // number of observations
  int<lower=1> K;                       // number of mixture components
  vector[N] y;                          // observations, in any real units

  int<lower=0, upper=1> ordered_means;  // 1: means ordered (identified); 0: unordered [1]

  int<lower=0, upper=1> sigma_known;    // 1: scales fixed at sigma_value; 0: estimated [0]
  vector<lower=0>[K] sigma_value;       // component scales when sigma_known = 1 (units of y) [1]

  vector[K] mu_loc;                     // prior centre of each component mean (units of y) [0]
  vector<lower=0>[K] mu_scale;          // prior sd of each component mean (units of y) [3]
  real<lower=0> sigma_loc;              // prior median of each scale, lognormal (units of y) [0.5]
  real<lower=0> sigma_scale;            // prior sd of log(scale), lognormal [1]
  vector<lower=0>[K] alpha;             // Dirichlet concentration of the weights [3]

  int<lower=0, upper=1> compute_log_lik;     // 1: emit pointwise log_lik for LOO [0]
  int<lower=0, upper=1> compute_membership;  // 1: emit membership log-probabilities [0]
}

transformed data {
  int K_ord = ordered_means ? K : 0;
  int K_free = ordered_means ? 0 : K;
  int K_sigma = sigma_known ? 0 : K;
}

parameters {
  ordered[K_ord] mu_ordered;            // means when ordered_means = 1
  vector[K_free] mu_free;               // means when ordered_means = 0
  vector<lower=0>[K_sigma] sigma_free;  // scales when sigma_known = 0
  simplex[K] w;                         // mixing weights
}

transformed parameters {
  vector[K] mu = ordered_means ? mu_ordered : mu_free;
  vector[K] sigma = sigma_known ? sigma_value : sigma_free;
}

model {
  matrix[N, K] lp;
  vector[K] log_w = log(w);
  for (k in 1:K) {
    lp[:, k] = log_w[k] + normal_log_terms(y, mu[k], sigma[k]);
  }
  mu ~ normal(mu_loc, mu_scale);
  sigma_free ~ lognormal(log(sigma_loc), sigma_scale);
  w ~ dirichlet(alpha);
  target += sum(rows_log_sum_exp(lp));
}

generated quantities {
  vector[compute_log_lik ? N : 0] log_lik;
  matrix[compute_membership ? N : 0, K] membership_log_prob;
  if (compute_log_lik || compute_membership) {
    matrix[N, K] lp;
    vector[K] log_w = log(w);
    for (k in 1:K) {
      lp[:, k] = log_w[k] + normal_log_terms(y, mu[k], sigma[k]);
    }
    if (compute_log_lik) {
      log_lik = rows_log_sum_exp(lp);
    }
    if (compute_membership) {
      membership_log_prob = membership_log_probs(lp);
    }
  }
}
