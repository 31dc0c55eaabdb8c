-- The validation queries of the STEDI lakehouse, in the SQL that Athena (Trino) and Spark SQL both accept.
-- `stedi verify` runs them over the local lake; in Athena they run over the Data Catalog database.
-- Each block starts with "-- <kind>: <name>". A count gives the rows of every table; a check gives the
-- number of violations, which must be 0; an info query gives a figure worth seeing that passes either way.
-- Columns are written in lower case (Athena lowercases them) and qualified, since USER and TIMESTAMP are keywords.

-- count: row_counts
SELECT 'customer_landing' AS table_name, COUNT(*) AS row_count FROM customer_landing
UNION ALL SELECT 'accelerometer_landing', COUNT(*) FROM accelerometer_landing
UNION ALL SELECT 'step_trainer_landing', COUNT(*) FROM step_trainer_landing
UNION ALL SELECT 'customer_rejected', COUNT(*) FROM customer_rejected
UNION ALL SELECT 'accelerometer_rejected', COUNT(*) FROM accelerometer_rejected
UNION ALL SELECT 'step_trainer_rejected', COUNT(*) FROM step_trainer_rejected
UNION ALL SELECT 'customer_trusted', COUNT(*) FROM customer_trusted
UNION ALL SELECT 'accelerometer_trusted', COUNT(*) FROM accelerometer_trusted
UNION ALL SELECT 'step_trainer_trusted', COUNT(*) FROM step_trainer_trusted
UNION ALL SELECT 'customer_curated', COUNT(*) FROM customer_curated
UNION ALL SELECT 'machine_learning_curated', COUNT(*) FROM machine_learning_curated;

-- info: customer_landing_without_consent
SELECT COUNT(*) AS row_count FROM customer_landing AS c WHERE c.sharewithresearchasofdate IS NULL;

-- check: customer_trusted_has_consent
SELECT COUNT(*) AS violations FROM customer_trusted AS c WHERE c.sharewithresearchasofdate IS NULL;

-- check: customer_trusted_one_row_per_email
SELECT COUNT(*) AS violations
FROM (SELECT c.email FROM customer_trusted AS c GROUP BY c.email HAVING COUNT(*) > 1) AS repeated;

-- check: accelerometer_trusted_no_duplicates
SELECT COUNT(*) AS violations
FROM (
    SELECT a.user, a.timestamp, a.x, a.y, a.z
    FROM accelerometer_trusted AS a
    GROUP BY a.user, a.timestamp, a.x, a.y, a.z
    HAVING COUNT(*) > 1
) AS repeated;

-- check: step_trainer_trusted_no_duplicates
SELECT COUNT(*) AS violations
FROM (
    SELECT s.sensorreadingtime, s.serialnumber, s.distancefromobject
    FROM step_trainer_trusted AS s
    GROUP BY s.sensorreadingtime, s.serialnumber, s.distancefromobject
    HAVING COUNT(*) > 1
) AS repeated;

-- check: accelerometer_trusted_users_are_trusted_customers
SELECT COUNT(*) AS violations
FROM accelerometer_trusted AS a
WHERE NOT EXISTS (SELECT 1 FROM customer_trusted AS c WHERE c.email = a.user);

-- check: customer_curated_customers_have_readings
SELECT COUNT(*) AS violations
FROM customer_curated AS c
WHERE NOT EXISTS (SELECT 1 FROM accelerometer_trusted AS a WHERE a.user = c.email);

-- check: step_trainer_trusted_devices_are_curated
SELECT COUNT(*) AS violations
FROM step_trainer_trusted AS s
WHERE NOT EXISTS (SELECT 1 FROM customer_curated AS c WHERE c.serialnumber = s.serialnumber);
