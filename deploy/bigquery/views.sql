-- refrecon warehouse views (BigQuery standard SQL)
--
-- What: read-only views over the tables refrecon loads (runs, cycle_summaries,
-- leaderboard_entries, referral_decisions, payment_accounting, subscriptions;
-- schemas in deploy/bigquery/<table>.json). Each table holds one snapshot per
-- day partition (snapshot_date); a re-run of a day replaces that day.
--
--   latest_run                    the newest run (greatest as_of)
--   latest_<table>                that run's rows of <table>
--   award_totals_by_cycle         per cycle of the latest run: pool, awarded,
--                                 remaining, and whether the leaderboard's
--                                 awards add up to the cycle's total
--   latest_clawback_candidates    referral rows of the latest run already
--                                 rewarded that convert in no cycle any more
--                                 (SPEC 2.7), for finance to review
--   settlement_state              the settlement ledger (settlements, written
--                                 only by refrecon settle apply): each entry's
--                                 latest row, i.e. its current state
--
-- "Latest" follows runs: refrecon loads runs last, so a run appears there
-- only once every other table of its day is loaded. Older days stay
-- queryable in the base tables (filter on snapshot_date to prune partitions).
-- Money columns are integers in minor units of the row's currency (cents for
-- usd, yen for jpy); divide by 10^exponent only for display.
--
-- Placeholders: ${PROJECT} is the Google Cloud project and ${DATASET} the
-- dataset refrecon writes (its WAREHOUSE setting). Apply (re-runnable) with:
--
--   PROJECT=my-project DATASET=refrecon \
--     envsubst '${PROJECT} ${DATASET}' < deploy/bigquery/views.sql |
--     bq query --use_legacy_sql=false --location=US
--
-- Creating views needs bigquery.tables.create on the dataset (e.g.
-- roles/bigquery.dataEditor); readers need roles/bigquery.dataViewer on the
-- dataset and roles/bigquery.jobUser on a project to run queries.

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_run`
OPTIONS (description = "refrecon: the newest run (greatest as_of)")
AS
SELECT *
FROM `${PROJECT}.${DATASET}.runs`
WHERE snapshot_id = (
  SELECT snapshot_id
  FROM `${PROJECT}.${DATASET}.runs`
  ORDER BY as_of DESC, snapshot_id DESC
  LIMIT 1
);

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_cycle_summaries`
OPTIONS (description = "refrecon: cycle_summaries rows of the latest run")
AS
SELECT t.*
FROM `${PROJECT}.${DATASET}.cycle_summaries` AS t
JOIN `${PROJECT}.${DATASET}.latest_run` AS r
  ON t.snapshot_date = r.snapshot_date AND t.snapshot_id = r.snapshot_id;

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_leaderboard_entries`
OPTIONS (description = "refrecon: leaderboard_entries rows of the latest run")
AS
SELECT t.*
FROM `${PROJECT}.${DATASET}.leaderboard_entries` AS t
JOIN `${PROJECT}.${DATASET}.latest_run` AS r
  ON t.snapshot_date = r.snapshot_date AND t.snapshot_id = r.snapshot_id;

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_referral_decisions`
OPTIONS (description = "refrecon: referral_decisions rows of the latest run (contains email addresses)")
AS
SELECT t.*
FROM `${PROJECT}.${DATASET}.referral_decisions` AS t
JOIN `${PROJECT}.${DATASET}.latest_run` AS r
  ON t.snapshot_date = r.snapshot_date AND t.snapshot_id = r.snapshot_id;

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_payment_accounting`
OPTIONS (description = "refrecon: payment_accounting rows of the latest run (contains email addresses)")
AS
SELECT t.*
FROM `${PROJECT}.${DATASET}.payment_accounting` AS t
JOIN `${PROJECT}.${DATASET}.latest_run` AS r
  ON t.snapshot_date = r.snapshot_date AND t.snapshot_id = r.snapshot_id;

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_subscriptions`
OPTIONS (description = "refrecon: subscriptions rows of the latest run")
AS
SELECT t.*
FROM `${PROJECT}.${DATASET}.subscriptions` AS t
JOIN `${PROJECT}.${DATASET}.latest_run` AS r
  ON t.snapshot_date = r.snapshot_date AND t.snapshot_id = r.snapshot_id;

-- award_totals_by_cycle: one row per cycle of the latest run. awarded is the
-- cycle's total as computed by refrecon; leaderboard_award_sum re-adds the
-- leaderboard's awards, and reconciles says whether the two agree.
CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.award_totals_by_cycle`
OPTIONS (description = "refrecon: award pool, awarded and remaining per cycle of the latest run, reconciled with the leaderboard")
AS
WITH awards AS (
  SELECT
    cycle_id,
    COUNT(*) AS ranked_referrers,
    COUNTIF(award > 0) AS awarded_referrers,
    SUM(award) AS award_sum
  FROM `${PROJECT}.${DATASET}.latest_leaderboard_entries`
  GROUP BY cycle_id
)
SELECT
  c.snapshot_id,
  c.snapshot_date,
  c.cycle_id,
  c.display_name,
  c.award_model,
  c.status,
  c.is_final,
  c.settles_at,
  c.currency,
  c.award_pool,
  c.awarded,
  c.award_pool_remaining,
  IFNULL(a.ranked_referrers, 0) AS ranked_referrers,
  IFNULL(a.awarded_referrers, 0) AS awarded_referrers,
  IFNULL(a.award_sum, 0) AS leaderboard_award_sum,
  IFNULL(a.award_sum, 0) = c.awarded AS reconciles
FROM `${PROJECT}.${DATASET}.latest_cycle_summaries` AS c
LEFT JOIN awards AS a USING (cycle_id);

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.latest_clawback_candidates`
OPTIONS (description = "refrecon: referral rows of the latest run already rewarded that convert in no cycle any more (contains email addresses)")
AS
SELECT snapshot_id, snapshot_date, referee_email, canonical_email, refcode, referred_at_raw, selected_plan, reason
FROM `${PROJECT}.${DATASET}.latest_referral_decisions`
WHERE clawback;

CREATE OR REPLACE VIEW `${PROJECT}.${DATASET}.settlement_state`
OPTIONS (description = "refrecon: each settlement ledger entry's current state (its row with the greatest seq; contains email addresses)")
AS
SELECT * EXCEPT (rn)
FROM (
  SELECT t.*, ROW_NUMBER() OVER (
    PARTITION BY t.cycle_id, t.entry_kind, t.refcode, t.referee_email
    ORDER BY t.seq DESC, t.recorded_at DESC) AS rn
  FROM `${PROJECT}.${DATASET}.settlements` AS t
)
WHERE rn = 1;
