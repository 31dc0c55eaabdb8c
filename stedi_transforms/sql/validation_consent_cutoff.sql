-- Checks for a lake built with the consent cutoff (`stedi run --consent-cutoff`, Glue `--CONSENT_CUTOFF true`); run
-- them after validation.sql. Each block starts with "-- <kind>: <name>"; a check gives the number of violations.

-- check: accelerometer_trusted_taken_after_consent
SELECT COUNT(*) AS violations
FROM accelerometer_trusted AS a
JOIN customer_trusted AS c ON c.email = a.user
WHERE a.timestamp < c.sharewithresearchasofdate;

-- check: step_trainer_trusted_taken_after_an_owners_consent
SELECT COUNT(*) AS violations
FROM step_trainer_trusted AS s
WHERE NOT EXISTS (
    SELECT 1 FROM customer_curated AS c
    WHERE c.serialnumber = s.serialnumber AND s.sensorreadingtime >= c.sharewithresearchasofdate
);
