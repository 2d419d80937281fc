# Survey-design reference results from R package `survey`: calibration with
# numeric auxiliaries, bounds (one-sided, per unit, on the weights), trimWeights,
# partial post-stratification, cluster-level calibration, and estimates with
# linearisation and replicate (JK1, JKn, bootstrap) standard errors.
#
# CI has no R: the outputs under tests/results/r_survey/ are committed and read
# by the Python tests through tests/results/r_survey.py.
#
# Regenerate from the repository root with:
#     Rscript tests/results/r_survey_reference.R
#
# Deterministic: the bootstrap replicates use set.seed() and their multipliers
# are written out, so Python recomputes the SEs from the very same replicates.
# See tests/results/README_survey.md for the layout and the case list.

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})

if (!dir.exists(file.path("tests", "results"))) {
  stop("run from the repository root: Rscript tests/results/r_survey_reference.R")
}
out_root <- file.path("tests", "results", "r_survey")
unlink(out_root, recursive = TRUE)
for (sub in c("data", "x", "replicates", "repweights")) {
  dir.create(file.path(out_root, sub), showWarnings = FALSE, recursive = TRUE)
}

CAL_EPSILON <- 1e-13
CAL_MAXIT <- 1000
RAKE_CONTROL <- list(maxit = 1000, epsilon = 1e-13, verbose = FALSE)
BOOT_REPLICATES <- 50
REPWEIGHT_CELLS_MAX <- 5000  # analysis replicate weights are written when n * R is at most this

options(survey.lonely.psu = "fail", survey.replicates.mse = FALSE)

versions <- list(
  R = R.version.string,
  survey = as.character(packageVersion("survey")),
  jsonlite = as.character(packageVersion("jsonlite")),
  platform = R.version$platform,
  options = list(survey.lonely.psu = "fail (changed per case where stated)",
                 survey.replicates.mse = FALSE,
                 survey.ultimate.cluster = getOption("survey.ultimate.cluster"),
                 survey.adjust.domain.lonely = getOption("survey.adjust.domain.lonely"),
                 survey.drop.replicates = getOption("survey.drop.replicates"))
)

# ------------------------------------------------------------------ output helpers
# Shortest of 15/16/17 significant digits that reads back to the identical double.
num <- function(x) {
  out <- sprintf("%.15g", x)
  for (digits in c(16, 17)) {
    bad <- !is.na(x) & is.finite(x) & as.numeric(out) != x
    out[bad] <- sprintf(paste0("%.", digits, "g"), x[bad])
  }
  out[is.infinite(x)] <- ifelse(x[is.infinite(x)] > 0, "inf", "-inf")
  out
}

write_csv <- function(df, path) {
  for (col in names(df)) {
    if (is.factor(df[[col]])) df[[col]] <- as.character(df[[col]])
    if (is.double(df[[col]])) df[[col]] <- ifelse(is.na(df[[col]]), NA, num(df[[col]]))
  }
  write.table(df, path, sep = ",", row.names = FALSE, col.names = TRUE, quote = FALSE, na = "")
}

write_json_file <- function(x, path) {
  writeLines(toJSON(x, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null"), path)
}

# Run an expression, keeping its value, its warnings and its error message (if any).
capture <- function(expr) {
  warns <- character()
  value <- NULL
  err <- NULL
  junk <- capture.output(  # postStratify() print()s the offending strata before stop()
    value <- withCallingHandlers(
      tryCatch(expr, error = function(e) { err <<- conditionMessage(e); NULL }),
      warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
      message = function(m) { warns <<- c(warns, paste("message:", trimws(conditionMessage(m)))); invokeRestart("muffleMessage") }
    )
  )
  list(value = value, warnings = unique(warns), error = err)
}

# ------------------------------------------------------------------ data and designs
data(api)
KEEP <- c("stype", "sch.wide", "comp.imp", "cname", "dnum", "snum", "api00", "api99",
          "enroll", "api.stu", "pw")

designs <- list()       # name -> list(design, data)
record_design <- function(name, design, data, call) {
  cl <- design$cluster
  st <- design$strata
  frame <- data.frame(row = seq_len(nrow(data)))
  for (v in intersect(KEEP, names(data))) frame[[v]] <- data[[v]]
  frame$weight <- weights(design)
  for (k in seq_len(ncol(cl))) {
    frame[[paste0("cluster", k)]] <- as.character(cl[[k]])
    frame[[paste0("strata", k)]] <- as.character(st[[k]])
    frame[[paste0("sampsize", k)]] <- as.numeric(design$fpc$sampsize[, k])
    if (!is.null(design$fpc$popsize)) frame[[paste0("popsize", k)]] <- as.numeric(design$fpc$popsize[, k])
  }
  write_csv(frame, file.path(out_root, "data", paste0(name, ".csv")))
  designs[[name]] <<- list(design = design, data = data, call = call, stages = ncol(cl),
                           has_fpc = !is.null(design$fpc$popsize), has_strata = design$has.strata)
}

record_design("strat", svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc),
              apistrat, "svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)")
record_design("strat_nofpc", svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat),
              apistrat, "svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat)")
record_design("clus1", svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc),
              apiclus1, "svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)")
record_design("clus1_nofpc", svydesign(id = ~dnum, weights = ~pw, data = apiclus1),
              apiclus1, "svydesign(id=~dnum, weights=~pw, data=apiclus1)")
record_design("clus2", svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2),
              apiclus2, "svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)")
# Lonely strata: strata are counties, many with a single school (artificial, for the lonely-PSU rules).
record_design("lonely", svydesign(id = ~1, strata = ~cname, weights = ~pw, data = apistrat),
              apistrat, "svydesign(id=~1, strata=~cname, weights=~pw, data=apistrat)")
# Kalton's example (survey's tests/kalton.R): equal weights 1.
ab <- expand.grid(a = factor(1:4), b = factor(1:3))
kaltonsample <- ab[rep(1:12, c(20, 50, 100, 30, 40, 140, 50, 100, 40, 310, 50, 70)), ]
kaltonpop <- ab[rep(1:12, c(80, 60, 170, 55, 40, 150, 60, 165, 55, 340, 200, 125)), ]
rownames(kaltonsample) <- NULL
dkalton <- suppressWarnings(svydesign(id = ~1, data = kaltonsample))
kdata <- data.frame(a = kaltonsample$a, b = kaltonsample$b)
record_design("kalton", dkalton, kdata, "svydesign(id=~1, data=kaltonsample)  # weights 1")
# Badly scaled design weights (survey's tests/badcal.R).
badcal <- data.frame(x = c(1, 1, 1, 1, 2, 2, 2, 2, 2, 2), w = rep(10, 10))
record_design("badcal", svydesign(ids = ~1, weights = ~w, data = badcal), badcal,
              "svydesign(ids=~1, weights=~w, data=data.frame(x=c(1,1,1,1,2,2,2,2,2,2), w=rep(10,10)))")
# caleg.R: districts with at least 2 sampled schools, except 639.
clusters <- table(apiclus2$dnum)
clusters <- clusters[clusters > 1 & names(clusters) != "639"]
apiclus2a <- subset(apiclus2, dnum %in% as.numeric(names(clusters)))
rownames(apiclus2a) <- NULL
record_design("clus2a", svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2a), apiclus2a,
              "svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=subset(apiclus2, dnum has >1 school, != 639))")

D <- function(name) designs[[name]]$design

# ------------------------------------------------------------------ population totals
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018)
pop.api99 <- c(pop.totals, api99 = sum(apipop$api99))  # 3914069
stopifnot(pop.api99[["api99"]] == 3914069)
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop.imp <- data.frame(comp.imp = c("No", "Yes"), Freq = c(1712, 4482))
pop.table <- xtabs(~stype + sch.wide, apipop)
pop.cname <- as.data.frame(table(cname = apipop$cname))
pop.schwide.api99 <- c(`(Intercept)` = 6194, sch.wideYes = 5122, api99 = 3914069)
pop.schwide.api99.enroll <- c(pop.schwide.api99, enroll = sum(apipop$enroll, na.rm = TRUE))
total.enroll <- sum(apipop$enroll, na.rm = TRUE)  # 3811472
stopifnot(total.enroll == 3811472)

# ------------------------------------------------------------------ estimates
# The standard set of estimates on a (possibly calibrated, possibly replicate) design.
stat_rows <- function(statistic, res, by = "") {
  cf <- coef(res)
  se <- as.numeric(as.matrix(SE(res)))
  if (by == "") {
    return(data.frame(statistic = statistic, variable = names(cf), by = "", group = "",
                      estimate = as.numeric(cf), se = se, stringsAsFactors = FALSE))
  }
  nm <- names(cf)
  has_colon <- grepl(":", nm, fixed = TRUE)
  vars <- attr(res, "svyby")$variables
  group <- ifelse(has_colon, sub(":.*$", "", nm), nm)
  variable <- ifelse(has_colon, sub("^[^:]*:", "", nm), vars[1])
  data.frame(statistic = statistic, variable = variable, by = by, group = group,
             estimate = as.numeric(cf), se = se, stringsAsFactors = FALSE)
}

standard_estimates <- function(des, data) {
  rows <- list(
    stat_rows("mean", svymean(~api00, des)),
    stat_rows("total", svytotal(~api.stu, des)),
    stat_rows("mean", svymean(~stype, des)),
    stat_rows("mean", svymean(~sch.wide, des)),
    stat_rows("mean", svyby(~api00, ~stype, des, svymean), by = "stype"),
    stat_rows("mean", svyby(~sch.wide, ~stype, des, svymean), by = "stype"),
    stat_rows("total", svyby(~api.stu, ~sch.wide, des, svytotal), by = "sch.wide")
  )
  if (!anyNA(data$enroll)) rows <- c(rows, list(stat_rows("total", svytotal(~enroll, des))))
  do.call(rbind, rows)
}

# ------------------------------------------------------------------ case bookkeeping
cases <- list()
weights_rows <- list()
estimate_rows <- list()
totals_rows <- list()
bounds_rows <- list()

add_totals <- function(id, population, margin = "") {
  totals_rows[[length(totals_rows) + 1]] <<- data.frame(
    case = id, margin = margin, cell = names(population), value = as.numeric(population),
    stringsAsFactors = FALSE)
}

# A rake()/postStratify() population table as (margin, cell, value) rows: cell labels
# are the values of the margin's variables joined by "|".
add_table <- function(id, table) {
  df <- if (inherits(table, "table")) as.data.frame(table, stringsAsFactors = FALSE) else table
  vars <- setdiff(names(df), "Freq")
  cell <- do.call(paste, c(lapply(vars, function(v) as.character(df[[v]])), sep = "|"))
  totals_rows[[length(totals_rows) + 1]] <<- data.frame(
    case = id, margin = paste(vars, collapse = "+"), cell = cell, value = as.numeric(df$Freq),
    stringsAsFactors = FALSE)
}

write_x <- function(id, formula, data) {
  mm <- model.matrix(formula, model.frame(formula, data))
  write_csv(as.data.frame(mm, check.names = FALSE), file.path(out_root, "x", paste0(id, ".csv")))
  paste0("x/", id, ".csv")
}

# One case. `run` is a function returning the final design; `steps` describes it for Python.
add_case <- function(id, group, description, design, call, run, steps = list(), estimates = TRUE,
                     replicate = NULL, lonely = "fail", check_totals = NULL, expect_error = FALSE) {
  old <- options(survey.lonely.psu = lonely)
  on.exit(options(old))
  res <- capture(run())
  entry <- list(id = id, group = group, description = description, design = design,
                replicate = replicate, lonely_psu = lonely, call = call, steps = steps,
                warnings = res$warnings)
  # calibrate() on a replicate design does not stop when a replicate fails to converge:
  # it only warns and keeps that replicate's last iterate.
  entry$replicate_nonconverged <- if (is.null(replicate)) 0L else sum(grepl("^Failed to converge", res$warnings))
  if (!is.null(res$error)) {
    if (!expect_error) stop(id, ": unexpected R error: ", res$error)
    entry$error <- res$error
    cases[[id]] <<- entry
    return(invisible(NULL))
  }
  if (expect_error) stop(id, ": R was expected to refuse but did not")
  des <- res$value
  data <- designs[[design]]$data
  w <- weights(des, "sampling")
  weights_rows[[length(weights_rows) + 1]] <<- data.frame(case = id, row = seq_along(w), weight = as.numeric(w))
  if (!is.null(check_totals)) {
    achieved <- colSums(check_totals$x * as.numeric(w))
    err <- max(abs(achieved - check_totals$totals) / abs(check_totals$totals))
    entry$max_rel_total_error <- err
    if (err > 1e-9) stop(id, ": calibration totals missed by ", err)
  }
  entry$sum_weights <- sum(w)
  entry$weight_range <- range(w)
  if (estimates) {
    est <- capture(standard_estimates(des, data))
    if (!is.null(est$error)) stop(id, ": estimates failed: ", est$error)
    entry$estimate_warnings <- est$warnings
    estimate_rows[[length(estimate_rows) + 1]] <<- cbind(case = id, est$value, stringsAsFactors = FALSE)
  }
  if (inherits(des, "svyrep.design")) {
    aw <- weights(des, "analysis")
    entry$n_replicates <- ncol(aw)
    if (length(aw) <= REPWEIGHT_CELLS_MAX) {
      colnames(aw) <- paste0("r", seq_len(ncol(aw)))
      write_csv(as.data.frame(aw), file.path(out_root, "repweights", paste0(id, ".csv")))
      entry$repweights_file <- paste0("repweights/", id, ".csv")
    }
  }
  cases[[id]] <<- entry
  invisible(des)
}

cal_step <- function(calfun = "linear", bounds = c(-Inf, Inf), x = NULL, bounds_const = FALSE,
                     variance = NULL, aggregate_stage = NULL, aggregate_index = NULL, trim = NULL,
                     stage = 0, totals = "totals.csv") {
  b <- if (identical(bounds, "per_unit")) "per_unit" else list(lower = num(bounds[1]), upper = num(bounds[2]))
  list(op = "calibrate", calfun = calfun, bounds = b, bounds_const = bounds_const, x = x,
       variance = variance, aggregate_stage = aggregate_stage, aggregate_index = aggregate_index,
       trim = if (is.null(trim)) NULL else num(trim), stage = stage,
       epsilon = CAL_EPSILON, maxit = CAL_MAXIT, totals = totals)
}
mm_of <- function(formula, data) model.matrix(formula, model.frame(formula, data))
fmt <- function(f) paste(deparse(f), collapse = "")

# ================================================================== f0: no calibration
for (nm in c("strat", "strat_nofpc", "clus1", "clus1_nofpc", "clus2")) {
  local({
    name <- nm
    add_case(paste0("plain_", name), "plain", "design-based estimates without any weighting step",
             name, designs[[name]]$call, function() D(name))
  })
}

# ================================================================== a: numeric auxiliaries
cal_case <- function(id, group, description, design, formula, population, ..., estimates = TRUE,
                     per_unit_bounds = NULL, variance_spec = NULL, step_extra = list(), check = TRUE) {
  args <- list(...)
  data <- designs[[design]]$data
  xfile <- write_x(id, formula, data)
  add_totals(id, population)
  bounds <- if (!is.null(per_unit_bounds)) per_unit_bounds else if (is.null(args$bounds)) c(-Inf, Inf) else args$bounds
  if (is.list(bounds)) {
    bounds_rows[[length(bounds_rows) + 1]] <<- data.frame(case = id, row = seq_len(nrow(data)),
                                                          lower = bounds$lower, upper = bounds$upper)
  }
  step <- do.call(cal_step, c(list(calfun = if (is.null(args$calfun)) "linear" else args$calfun,
                                   bounds = if (is.list(bounds)) "per_unit" else bounds,
                                   x = xfile,
                                   bounds_const = isTRUE(args$bounds.const),
                                   variance = variance_spec,
                                   aggregate_stage = args$aggregate.stage,
                                   trim = args$trim,
                                   stage = if (is.null(args$stage)) 0 else args$stage),
                              step_extra))
  call_args <- args
  call_args$bounds <- bounds
  run <- function() do.call(calibrate, c(list(design = D(design), formula = formula, population = population,
                                              epsilon = CAL_EPSILON, maxit = CAL_MAXIT), call_args))
  argtext <- paste(vapply(names(args), function(a) paste0(a, "=", paste(deparse(args[[a]]), collapse = "")), ""),
                   collapse = ", ")
  call <- sprintf("calibrate(%s, %s, population, %s%sepsilon=%g, maxit=%d)", design, fmt(formula), argtext,
                  if (nchar(argtext)) ", " else "", CAL_EPSILON, CAL_MAXIT)
  ct <- if (check) list(x = mm_of(formula, data), totals = population) else NULL
  add_case(id, group, description, design, call, run, steps = list(step), estimates = estimates,
           check_totals = ct)
}

cal_case("a01_strat_linear_stype_api99", "numeric", "GREG on school type and the 1999 API total",
         "strat", ~stype + api99, pop.api99)
cal_case("a02_clus1_linear_stype_api99", "numeric", "?calibrate dclus1g3: GREG, one-stage cluster sample",
         "clus1", ~stype + api99, pop.api99)
cal_case("a03_clus1_raking_stype_api99", "numeric", "?calibrate dclus1g3c: generalised raking",
         "clus1", ~stype + api99, pop.api99, calfun = "raking")
cal_case("a04_clus1_logit_stype_api99", "numeric", "?calibrate dclus1g3d: logit, bounds (0.5, 2.5)",
         "clus1", ~stype + api99, pop.api99, calfun = "logit", bounds = c(0.5, 2.5))
cal_case("a05_clus1_linear_bounded_stype_api99", "numeric", "?calibrate dclus1g3b: truncated linear (0.6, 1.6)",
         "clus1", ~stype + api99, pop.api99, bounds = c(0.6, 1.6))
cal_case("a06_strat_raking_bounded_schwide_api99", "numeric", "bounded raking (0.97, 1.03) on sch.wide and api99",
         "strat", ~sch.wide + api99, pop.schwide.api99, calfun = "raking", bounds = c(0.97, 1.03))
cal_case("a07_strat_ratio_common", "numeric",
         "?calibrate dstratg1: calibrate(~enroll-1, variance=1) is the common ratio estimator",
         "strat", ~enroll - 1, c(enroll = total.enroll), variance = 1,
         variance_spec = list(kind = "coef", value = 1))
cal_case("a08_strat_ratio_hetero", "numeric",
         "?calibrate dstratgh: calibrate(~enroll-1, variance=apistrat$enroll)",
         "strat", ~enroll - 1, c(enroll = total.enroll), variance = apistrat$enroll,
         variance_spec = list(kind = "column", column = "enroll"))
cal_case("a09_clus1_linear_stype_schwide", "numeric", "?calibrate dclus1g2: stype and sch.wide dummies",
         "clus1", ~stype + sch.wide, c(pop.totals, sch.wideYes = 5122))
cal_case("a10_clus1_linear_bounded_hetero", "numeric",
         "bounded linear (0.6, 1.6) with variance=enroll (grake path: u = x'eta / enroll)",
         "clus1", ~stype + api99, pop.api99, bounds = c(0.6, 1.6), variance = apiclus1$enroll,
         variance_spec = list(kind = "column", column = "enroll"))
cal_case("a11_kalton_greg_numeric", "numeric", "kalton.R dgreg: GREG on the numeric codes of a and b",
         "kalton", ~as.numeric(a) + as.numeric(b),
         colSums(model.matrix(~as.numeric(a) + as.numeric(b), kaltonpop)), estimates = FALSE)
cal_case("a12_strat_logit_schwide_api99_enroll", "numeric", "logit (0.9, 1.2) on sch.wide, api99 and enroll",
         "strat", ~sch.wide + api99 + enroll, pop.schwide.api99.enroll, calfun = "logit", bounds = c(0.9, 1.2))
cal_case("a13_badcal_linear", "numeric", "badcal.R: design weights 40x too small, linear (closed form)",
         "badcal", ~factor(x), c(`(Intercept)` = 10000, `factor(x)2` = 5000), estimates = FALSE)
cal_case("a14_badcal_raking", "numeric",
         "badcal.R: raking; grake first rescales d by mean(T / Xd) = 91.67 (every ratio > 20)",
         "badcal", ~factor(x), c(`(Intercept)` = 10000, `factor(x)2` = 5000), calfun = "raking", estimates = FALSE)
cal_case("a15_badcal_raking_bounded", "numeric",
         "badcal.R with bounds (0.8, 1.5): the bounds apply to g AFTER R's rescaling by 91.67 (warning)",
         "badcal", ~factor(x), c(`(Intercept)` = 10000, `factor(x)2` = 5000), calfun = "raking", bounds = c(0.8, 1.5), estimates = FALSE)
cal_case("a16_clus1_raking_list_margins", "numeric",
         "?calibrate gclus1r: calibrate(formula=list(~stype+sch.wide, ~stype+comp.imp), raking)",
         "clus1", ~stype * sch.wide + stype * comp.imp,
         survey:::margins2totals(list(~stype + sch.wide, ~stype + comp.imp),
                                 list(pop.table, xtabs(~stype + comp.imp, apipop))),
         calfun = "raking")
# The calibrate() with list formula builds exactly ~stype*sch.wide+stype*comp.imp (checked by the totals).

# ================================================================== b: bounds
kalton_marg <- colSums(model.matrix(~a + b, kaltonpop))
cal_case("b01_kalton_linear_upper_only", "bounds", "one-sided bounds c(-Inf, 2.2), truncated linear",
         "kalton", ~a + b, kalton_marg, bounds = c(-Inf, 2.2), estimates = FALSE)
cal_case("b02_kalton_linear_lower_only", "bounds", "one-sided bounds c(0.9, Inf), truncated linear",
         "kalton", ~a + b, kalton_marg, bounds = c(0.9, Inf), estimates = FALSE)
cal_case("b03_kalton_raking_upper_only", "bounds", "one-sided bounds c(-Inf, 2.3), raking",
         "kalton", ~a + b, kalton_marg, calfun = "raking", bounds = c(-Inf, 2.3), estimates = FALSE)
cal_case("b04_kalton_trunclinear", "bounds", "kalton.R dtrunclinear: linear (0.5, 2.2)",
         "kalton", ~a + b, kalton_marg, bounds = c(0.5, 2.2), estimates = FALSE)
cal_case("b05_kalton_logit", "bounds", "kalton.R dlogit: logit (0.5, 2.2)",
         "kalton", ~a + b, kalton_marg, calfun = "logit", bounds = c(0.5, 2.2), estimates = FALSE)
bnds40 <- list(lower = rep(-Inf, nrow(apiclus1)), upper = c(40, rep(Inf, nrow(apiclus1) - 1)))
cal_case("b06_clus1_bounds_const_unit", "bounds",
         "?calibrate dclus1g3b1: per-unit bounds on the WEIGHTS (bounds.const=TRUE), first weight <= 40",
         "clus1", ~stype + api99, pop.api99, bounds.const = TRUE, per_unit_bounds = bnds40)
cal_case("b07_clus1_bounds_const_scalar", "bounds", "bounds on the weights themselves: 15 <= w <= 60 (both bind)",
         "clus1", ~stype + api99, pop.api99, bounds = c(15, 60), bounds.const = TRUE)
strat_g_bounds <- list(lower = rep(0.97, nrow(apistrat)),
                       upper = ifelse(apistrat$stype == "E", 1.02, 1.035))
cal_case("b08_strat_per_unit_g_bounds", "bounds", "per-unit bounds on g (list of vectors), linear",
         "strat", ~sch.wide + api99, pop.schwide.api99, per_unit_bounds = strat_g_bounds)
cal_case("b09_strat_per_unit_g_bounds_raking", "bounds", "per-unit bounds on g, raking",
         "strat", ~sch.wide + api99, pop.schwide.api99, calfun = "raking", per_unit_bounds = strat_g_bounds)
cal_case("b10_strat_raking_bounds_const", "bounds", "raking with bounds on the weights: 14.7 <= w <= 45",
         "strat", ~sch.wide + api99, pop.schwide.api99, calfun = "raking", bounds = c(14.7, 45),
         bounds.const = TRUE)

# ================================================================== refusals (R errors)
refusal <- function(id, description, design, call, run, steps = list(), lonely = "fail") {
  add_case(id, "refusal", description, design, call, run, steps = steps, estimates = FALSE,
           lonely = lonely, expect_error = TRUE)
}
add_totals("x01_strat_bounds_const_infeasible", pop.api99)
refusal("x01_strat_bounds_const_infeasible",
        "weights >= 20 are impossible: stratum H has 50 units of 15.1 and total 755 < 50 * 20",
        "strat", "calibrate(dstrat, ~stype+api99, pop, bounds=c(20, Inf), bounds.const=TRUE)",
        function() calibrate(D("strat"), ~stype + api99, pop.api99, bounds = c(20, Inf), bounds.const = TRUE,
                             epsilon = CAL_EPSILON, maxit = 200),
        steps = list(cal_step("linear", c(20, Inf), x = write_x("x01_strat_bounds_const_infeasible",
                                                                 ~stype + api99, apistrat),
                              bounds_const = TRUE)))
add_totals("x02_clus1_logit_infinite_bounds", pop.api99)
refusal("x02_clus1_logit_infinite_bounds", "logit calibration needs finite bounds",
        "clus1", "calibrate(dclus1, ~stype+api99, pop, calfun='logit')",
        function() calibrate(D("clus1"), ~stype + api99, pop.api99, calfun = "logit"),
        steps = list(cal_step("logit", c(-Inf, Inf), x = write_x("x02_clus1_logit_infinite_bounds",
                                                                  ~stype + api99, apiclus1))))
add_table("x03_clus1_poststratify_missing_strata", pop.cname)
refusal("x03_clus1_poststratify_missing_strata", "population strata absent from the sample, partial=FALSE",
        "clus1", "postStratify(dclus1, ~cname, table(cname=apipop$cname))",
        function() postStratify(D("clus1"), ~cname, pop.cname),
        steps = list(list(op = "poststratify", strata = list("cname"), partial = FALSE)))
add_totals("x04_clus1_linear_bounds_too_tight", pop.api99)
refusal("x04_clus1_linear_bounds_too_tight", "bounds (0.95, 1.05) cannot reach the totals",
        "clus1", "calibrate(dclus1, ~stype+api99, pop, bounds=c(0.95, 1.05), maxit=200)",
        function() calibrate(D("clus1"), ~stype + api99, pop.api99, bounds = c(0.95, 1.05),
                             epsilon = CAL_EPSILON, maxit = 200),
        steps = list(cal_step("linear", c(0.95, 1.05), x = write_x("x04_clus1_linear_bounds_too_tight",
                                                                    ~stype + api99, apiclus1))))
refusal("x05_lonely_fail", "a stratum with one PSU and survey.lonely.psu='fail'",
        "lonely", "svymean(~api00, svydesign(id=~1, strata=~cname, weights=~pw, data=apistrat))",
        function() svymean(~api00, D("lonely")))
refusal("x06_jk1_stratified", "JK1 replicate weights on a stratified design",
        "strat", "as.svrepdesign(dstrat, type='JK1')",
        function() as.svrepdesign(D("strat"), type = "JK1"))
refusal("x07_jkn_unstratified", "JKn replicate weights on an unstratified design",
        "clus1", "as.svrepdesign(dclus1, type='JKn')",
        function() as.svrepdesign(D("clus1"), type = "JKn"))
zero_h <- c(`(Intercept)` = 6194 - 755, stypeH = 0, stypeM = 1018)
add_totals("x08_clus1_raking_zero_target", zero_h)
refusal("x08_clus1_raking_zero_target", "raking cannot give weight 0 to the sampled H schools",
        "clus1", "calibrate(dclus1, ~stype, c(5439, stypeH=0, stypeM=1018), calfun='raking', maxit=200)",
        function() calibrate(D("clus1"), ~stype, zero_h, calfun = "raking", epsilon = CAL_EPSILON, maxit = 200),
        steps = list(cal_step("raking", x = write_x("x08_clus1_raking_zero_target", ~stype, apiclus1))))
add_totals("x09_clus1_wrong_length_totals", pop.totals[1:2])
refusal("x09_clus1_wrong_length_totals", "fewer population totals than calibration variables",
        "clus1", "calibrate(dclus1, ~stype, c(6194, stypeH=755), calfun='raking')",
        function() calibrate(D("clus1"), ~stype, pop.totals[1:2], calfun = "raking"),
        steps = list(cal_step("raking", x = write_x("x09_clus1_wrong_length_totals", ~stype, apiclus1))))
add_totals("x11_kalton_upper_only_infeasible", kalton_marg)
refusal("x11_kalton_upper_only_infeasible", "one-sided bounds c(-Inf, 2.1): a cell needs g above 2.1",
        "kalton", "calibrate(dkalton, ~a+b, marginalpop, bounds=c(-Inf, 2.1), maxit=200)",
        function() calibrate(D("kalton"), ~a + b, kalton_marg, bounds = c(-Inf, 2.1), epsilon = CAL_EPSILON,
                             maxit = 200),
        steps = list(cal_step("linear", c(-Inf, 2.1), x = write_x("x11_kalton_upper_only_infeasible", ~a + b, kdata))))

# ================================================================== c: trimming
dclus1g <- calibrate(D("clus1"), ~stype + api99, pop.api99)
add_totals("c01_clus1_trimweights", pop.api99)
trim_call <- "trimWeights(calibrate(dclus1, ~stype+api99, pop), lower=20, upper=45%s)"
add_case("c01_clus1_trimweights", "trim", "?trimWeights dclus1t: one pass, additive redistribution",
         "clus1", sprintf(trim_call, ""), function() trimWeights(dclus1g, lower = 20, upper = 45),
         steps = list(cal_step("linear", x = write_x("c01_clus1_trimweights", ~stype + api99, apiclus1)),
                      list(op = "trim_weights", lower = 20, upper = 45, strict = FALSE)))
add_totals("c02_clus1_trimweights_strict", pop.api99)
add_case("c02_clus1_trimweights_strict", "trim", "?trimWeights dclus1tt: strict=TRUE (iterated)",
         "clus1", sprintf(trim_call, ", strict=TRUE"),
         function() trimWeights(dclus1g, lower = 20, upper = 45, strict = TRUE),
         steps = list(cal_step("linear", x = write_x("c02_clus1_trimweights_strict", ~stype + api99, apiclus1)),
                      list(op = "trim_weights", lower = 20, upper = 45, strict = TRUE)))
cal_case("c03_clus1_calibrate_trim", "trim",
         "?calibrate dclus1tr: bounds (0.5, 2) and trim=c(2/3, 3/2) on g (redistribution proportional to d)",
         "clus1", ~stype + api99, pop.api99, bounds = c(0.5, 2), trim = c(2 / 3, 3 / 2), check = FALSE)
add_case("c04_strat_trimweights_plain", "trim", "trimWeights on an uncalibrated stratified design: upper=40",
         "strat", "trimWeights(dstrat, upper=40)", function() trimWeights(D("strat"), upper = 40),
         steps = list(list(op = "trim_weights", lower = "-inf", upper = 40, strict = FALSE)))
add_table("c05_strat_rake_trimweights_strict", pop.schwide)
add_table("c05_strat_rake_trimweights_strict", pop.imp)
add_case("c05_strat_rake_trimweights_strict", "trim", "rake on sch.wide, comp.imp then trimWeights(upper=40, strict)",
         "strat", "trimWeights(rake(dstrat, list(~sch.wide, ~comp.imp), ...), upper=40, strict=TRUE)",
         function() trimWeights(rake(D("strat"), list(~sch.wide, ~comp.imp), list(pop.schwide, pop.imp),
                                     control = RAKE_CONTROL), upper = 40, strict = TRUE),
         steps = list(list(op = "rake", margins = list("sch.wide", "comp.imp")),
                      list(op = "trim_weights", lower = "-inf", upper = 40, strict = TRUE)))

# ================================================================== d: post-stratification
ps_case <- function(id, description, design, strata, population, partial = FALSE, replicate = NULL, base = NULL) {
  add_table(id, population)
  vars <- all.vars(strata)
  des0 <- if (is.null(base)) D(design) else base
  add_case(id, if (is.null(replicate)) "poststratify" else "replicate", description, design,
           sprintf("postStratify(%s, %s, population%s)", if (is.null(replicate)) design else replicate,
                   fmt(strata), if (partial) ", partial=TRUE" else ""),
           function() postStratify(des0, strata, population, partial = partial),
           steps = list(list(op = "poststratify", strata = as.list(vars), partial = partial)),
           replicate = replicate)
}
ps_case("d01_clus1_poststratify_stype", "?postStratify dclus1p", "clus1", ~stype, pop.types)
ps_case("d02_clus1_poststratify_stype_schwide", "post-strata stype x sch.wide", "clus1", ~stype + sch.wide, pop.table)
ps_case("d03_clus1_poststratify_partial", "partial=TRUE: counties absent from the sample are ignored",
        "clus1", ~cname, pop.cname, partial = TRUE)
ps_case("d04_strat_poststratify_schwide", "stratified design post-stratified on sch.wide", "strat", ~sch.wide, pop.schwide)
ps_case("d05_strat_poststratify_partial", "partial=TRUE on the stratified design (counties)",
        "strat", ~cname, pop.cname, partial = TRUE)

# ================================================================== e: cluster-level calibration
cal_case("e01_clus1_aggregate_stype", "cluster",
         "?calibrate dclus1agg: weights constant within school district (aggregate.stage=1)",
         "clus1", ~stype, pop.totals, aggregate.stage = 1, check = FALSE)
cal_case("e02_clus1_aggregate_stype_api99", "cluster", "aggregate.stage=1, GREG on stype and api99",
         "clus1", ~stype + api99, pop.api99, aggregate.stage = 1, check = FALSE)
cal_case("e03_clus1_aggregate_linear_bounded", "cluster", "aggregate.stage=1, truncated linear, bounds (0.4, 3)",
         "clus1", ~stype + api99, pop.api99, aggregate.stage = 1, bounds = c(0.4, 3), check = FALSE)
cal_case("e07_clus1_aggregate_raking", "cluster", "aggregate.stage=1, raking (unbounded)",
         "clus1", ~stype + api99, pop.api99, aggregate.stage = 1, calfun = "raking", check = FALSE)
cal_case("e04_clus2_aggregate_stype_api99", "cluster",
         "two-stage design, aggregate.stage=1: cluster-level GREG, multistage variance",
         "clus2", ~stype + api99, pop.api99, aggregate.stage = 1, check = FALSE)
cal_case("e05_clus2_unit_linear_stype_api99", "cluster", "two-stage design, unit-level GREG, multistage variance",
         "clus2", ~stype + api99, pop.api99)
# caleg.R: calibration within each first-stage cluster (stage=1) to that district's api99 total.
popclusters <- subset(apipop, dnum %in% as.numeric(names(clusters)))
pop_stage <- lapply(as.numeric(names(clusters)), function(cluster) {
  colSums(model.matrix(~api99, model.frame(~api99, subset(popclusters, dnum %in% cluster))))
})
names(pop_stage) <- names(clusters)
for (k in names(pop_stage)) {
  p <- pop_stage[[k]]
  names(p) <- paste0(k, ":", names(p))
  add_totals("e06_clus2a_stage1_greg", p)
}
xf <- write_x("e06_clus2a_stage1_greg", ~api99, apiclus2a)
add_case("e06_clus2a_stage1_greg", "cluster",
         "caleg.R: GREG within each first-stage cluster (stage=1) to the district's totals",
         "clus2a", "calibrate(dclus2a, ~api99, pop_by_district, stage=1)",
         function() calibrate(D("clus2a"), ~api99, pop_stage, stage = 1),
         steps = list(cal_step("linear", x = xf, stage = 1)))

# ================================================================== g: raking
rake_case <- function(id, description, design, margins, populations, replicate = NULL, base = NULL) {
  for (p in populations) add_table(id, p)
  des0 <- if (is.null(base)) D(design) else base
  add_case(id, if (is.null(replicate)) "rake" else "replicate", description, design,
           sprintf("rake(%s, list(%s), <tables>, control=list(maxit=%d, epsilon=%g))",
                   if (is.null(replicate)) design else replicate,
                   paste(vapply(margins, fmt, ""), collapse = ", "), RAKE_CONTROL$maxit, RAKE_CONTROL$epsilon),
           function() rake(des0, margins, populations, control = RAKE_CONTROL),
           steps = list(list(op = "rake", margins = lapply(margins, function(m) paste(all.vars(m), collapse = "+")))),
           replicate = replicate)
}
rake_case("g01_clus1_rake_stype_schwide", "?rake dclus1r (tight control)", "clus1",
          list(~stype, ~sch.wide), list(pop.types, pop.schwide))
cal_case("g02_clus1_calraking_stype_schwide", "rake",
         "?rake dclus1gr: calibrate(calfun='raking') on the same margins; its SEs differ from rake()'s",
         "clus1", ~stype + sch.wide, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch.wideYes = 5122),
         calfun = "raking")
rake_case("g03_clus1_rake_2d_margin", "?rake dclus1r2: a joint stype x sch.wide margin and comp.imp", "clus1",
          list(~stype + sch.wide, ~comp.imp), list(pop.table, pop.imp))
rake_case("g04_strat_rake_schwide_compimp", "rake on a stratified design with fpc", "strat",
          list(~sch.wide, ~comp.imp), list(pop.schwide, pop.imp))
cal_case("g06_strat_calraking_schwide_compimp", "rake",
         "calibrate(calfun='raking') on g04's margins: same weights, but the d-weighted GREG residual instead of rake()'s",
         "strat", ~sch.wide + comp.imp, c(`(Intercept)` = 6194, sch.wideYes = 5122, comp.impYes = 4482),
         calfun = "raking")
rake_case("g05_clus2_rake_stype_schwide", "rake on a two-stage design", "clus2",
          list(~stype, ~sch.wide), list(pop.types, pop.schwide))

# ================================================================== l: lonely PSUs
for (rule in c("certainty", "remove", "adjust", "average")) {
  local({
    r <- rule
    add_case(paste0("l_", r), "lonely", paste0("strata with a single PSU, survey.lonely.psu='", r, "'"),
             "lonely", designs$lonely$call, function() D("lonely"), lonely = r)
  })
}

# ================================================================== r: replicate weights
replicate_designs <- list()
record_replicates <- function(name, rep, design, call) {
  mult <- as.matrix(rep$repweights)
  colnames(mult) <- paste0("r", seq_len(ncol(mult)))
  write_csv(as.data.frame(mult), file.path(out_root, "replicates", paste0(name, ".csv")))
  write_csv(data.frame(replicate = seq_len(ncol(mult)), rscale = rep$rscales, scale = rep$scale),
            file.path(out_root, "replicates", paste0(name, "_scales.csv")))
  replicate_designs[[name]] <<- list(design = design, type = rep$type, call = call, n_replicates = ncol(mult),
                                     scale = rep$scale, mse = isTRUE(rep$mse),
                                     multipliers = paste0("replicates/", name, ".csv"),
                                     scales = paste0("replicates/", name, "_scales.csv"))
  rep
}
rclus1 <- record_replicates("jk1_clus1", as.svrepdesign(D("clus1")), "clus1", "as.svrepdesign(dclus1)  # JK1, fpc")
rclus1n <- record_replicates("jk1_clus1_nofpc", as.svrepdesign(D("clus1_nofpc")), "clus1_nofpc",
                             "as.svrepdesign(dclus1_nofpc)  # JK1, no fpc")
jkstrat <- record_replicates("jkn_strat", as.svrepdesign(D("strat"), type = "JKn"), "strat",
                             "as.svrepdesign(dstrat, type='JKn')  # fpc")
jkstratn <- record_replicates("jkn_strat_nofpc", as.svrepdesign(D("strat_nofpc"), type = "JKn"), "strat_nofpc",
                              "as.svrepdesign(dstrat_nofpc, type='JKn')")
set.seed(20240501)
bclus1 <- record_replicates("boot_clus1", as.svrepdesign(D("clus1"), type = "bootstrap", replicates = BOOT_REPLICATES),
                            "clus1", "set.seed(20240501); as.svrepdesign(dclus1, type='bootstrap', replicates=50)")
set.seed(20240502)
bclus1n <- record_replicates("boot_clus1_nofpc",
                             as.svrepdesign(D("clus1_nofpc"), type = "bootstrap", replicates = BOOT_REPLICATES),
                             "clus1_nofpc", "set.seed(20240502); as.svrepdesign(dclus1_nofpc, type='bootstrap', replicates=50)")
set.seed(20240503)
bstrat <- record_replicates("boot_strat", as.svrepdesign(D("strat"), type = "bootstrap", replicates = BOOT_REPLICATES),
                            "strat", "set.seed(20240503); as.svrepdesign(dstrat, type='bootstrap', replicates=50)")
rclus2 <- record_replicates("jk1_clus2", suppressWarnings(as.svrepdesign(D("clus2"))), "clus2",
                            "as.svrepdesign(dclus2)  # JK1; fpc after the first stage dropped (warning)")

rep_cal <- function(id, description, rep_name, base, formula, population, ...) {
  args <- list(...)
  design <- replicate_designs[[rep_name]]$design
  data <- designs[[design]]$data
  add_totals(id, population)
  step <- cal_step(calfun = if (is.null(args$calfun)) "linear" else args$calfun,
                   bounds = if (is.null(args$bounds)) c(-Inf, Inf) else args$bounds,
                   x = write_x(id, formula, data),
                   aggregate_index = if (is.null(args$aggregate.index)) NULL else all.vars(args$aggregate.index),
                   trim = args$trim)
  argtext <- paste(vapply(names(args), function(a) paste0(a, "=", paste(deparse(args[[a]]), collapse = "")), ""),
                   collapse = ", ")
  add_case(id, "replicate", description, design,
           sprintf("calibrate(%s, %s, population, %s%sepsilon=%g, maxit=%d)", rep_name, fmt(formula), argtext,
                   if (nchar(argtext)) ", " else "", CAL_EPSILON, CAL_MAXIT),
           function() do.call(calibrate, c(list(design = base, formula = formula, population = population,
                                                epsilon = CAL_EPSILON, maxit = CAL_MAXIT), args)),
           steps = list(step), replicate = rep_name)
}
plain_rep <- function(id, description, rep_name, rep) {
  add_case(id, "replicate", description, replicate_designs[[rep_name]]$design,
           replicate_designs[[rep_name]]$call, function() rep, replicate = rep_name)
}
plain_rep("r01_jk1_clus1_plain", "JK1 on the one-stage cluster sample, fpc", "jk1_clus1", rclus1)
plain_rep("r02_jk1_clus1_nofpc_plain", "JK1 without fpc", "jk1_clus1_nofpc", rclus1n)
rake_case("r03_jk1_clus1_rake", "?rake rclus1r: raking redone on every JK1 replicate", "clus1",
          list(~stype, ~sch.wide), list(pop.types, pop.schwide), replicate = "jk1_clus1", base = rclus1)
ps_case("r04_jk1_clus1_poststratify", "?postStratify rclus1p", "clus1", ~stype, pop.types,
        replicate = "jk1_clus1", base = rclus1)
rep_cal("r05_jk1_clus1_linear", "?calibrate rclus1g3: GREG redone on every replicate", "jk1_clus1", rclus1,
        ~stype + api99, pop.api99)
rep_cal("r06_jk1_clus1_raking", "raking redone on every replicate", "jk1_clus1", rclus1,
        ~stype + api99, pop.api99, calfun = "raking")
rep_cal("r07_jk1_clus1_logit", "logit (0.5, 2.5) redone on every replicate", "jk1_clus1", rclus1,
        ~stype + api99, pop.api99, calfun = "logit", bounds = c(0.5, 2.5))
rep_cal("r08_jk1_clus1_aggregate", "?calibrate rclus1agg3: aggregate.index=~dnum", "jk1_clus1", rclus1,
        ~stype + api99, pop.api99, aggregate.index = ~dnum)
rep_cal("r09_jk1_clus1_trim", "?calibrate rclus1tr: bounds (0.5, 2), trim=c(2/3, 3/2) on every replicate",
        "jk1_clus1", rclus1, ~stype + api99, pop.api99, bounds = c(0.5, 2), trim = c(2 / 3, 3 / 2))
plain_rep("r10_jkn_strat_plain", "JKn on the stratified sample, fpc", "jkn_strat", jkstrat)
plain_rep("r11_jkn_strat_nofpc_plain", "JKn without fpc", "jkn_strat_nofpc", jkstratn)
rep_cal("r12_jkn_strat_linear", "JKn, GREG on sch.wide and api99", "jkn_strat", jkstrat,
        ~sch.wide + api99, pop.schwide.api99)
rake_case("r13_jkn_strat_rake", "JKn, raking on sch.wide and comp.imp", "strat",
          list(~sch.wide, ~comp.imp), list(pop.schwide, pop.imp), replicate = "jkn_strat", base = jkstrat)
ps_case("r14_jkn_strat_poststratify", "JKn, post-stratified on sch.wide", "strat", ~sch.wide, pop.schwide,
        replicate = "jkn_strat", base = jkstrat)
plain_rep("r15_boot_clus1_plain", "bootstrap (50 replicates, R's multipliers recorded), fpc", "boot_clus1", bclus1)
rep_cal("r16_boot_clus1_linear", "bootstrap, GREG redone on every replicate", "boot_clus1", bclus1,
        ~stype + api99, pop.api99)
plain_rep("r17_boot_strat_plain", "bootstrap on the stratified sample, fpc", "boot_strat", bstrat)
rake_case("r18_boot_strat_rake", "bootstrap, raking on sch.wide and comp.imp", "strat",
          list(~sch.wide, ~comp.imp), list(pop.schwide, pop.imp), replicate = "boot_strat", base = bstrat)
plain_rep("r19_jk1_clus2_plain", "JK1 on the two-stage design (first-stage fpc only)", "jk1_clus2", rclus2)
plain_rep("r20_boot_clus1_nofpc_plain", "bootstrap without fpc", "boot_clus1_nofpc", bclus1n)
rep_cal("r21_boot_strat_logit", "bootstrap, logit (0.5, 2.5) redone on every replicate",
        "boot_strat", bstrat, ~sch.wide + api99, pop.schwide.api99, calfun = "logit", bounds = c(0.5, 2.5))
rep_cal("r22_jkn_strat_raking", "JKn, raking on sch.wide and api99 redone on every replicate", "jkn_strat", jkstrat,
        ~sch.wide + api99, pop.schwide.api99, calfun = "raking")

# ------------------------------------------------------------------ write everything
write_csv(do.call(rbind, weights_rows), file.path(out_root, "weights.csv"))
write_csv(do.call(rbind, estimate_rows), file.path(out_root, "estimates.csv"))
write_csv(do.call(rbind, totals_rows), file.path(out_root, "totals.csv"))
write_csv(do.call(rbind, bounds_rows), file.path(out_root, "bounds.csv"))

design_meta <- lapply(designs, function(d) list(call = d$call, n = nrow(d$data), stages = d$stages,
                                                has_fpc = d$has_fpc, has_strata = d$has_strata))
write_json_file(list(versions = versions,
                     settings = list(calibrate_epsilon = CAL_EPSILON, calibrate_maxit = CAL_MAXIT,
                                     rake_control = RAKE_CONTROL, bootstrap_replicates = BOOT_REPLICATES),
                     designs = design_meta,
                     replicate_designs = replicate_designs,
                     cases = unname(cases)),
                file.path(out_root, "metadata.json"))

n_err <- sum(vapply(cases, function(e) !is.null(e$error), TRUE))
cat(sprintf("%d cases (%d refusals), %d estimate rows, written to %s\n", length(cases), n_err,
            nrow(do.call(rbind, estimate_rows)), out_root))
