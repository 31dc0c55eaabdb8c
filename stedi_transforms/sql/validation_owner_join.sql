-- Checks for a lake built with the owner join (`stedi run --ml-join owner`, Glue `--ML_JOIN owner`); run them after
-- validation.sql. Each block starts with "-- <kind>: <name>"; a check gives the number of violations, which must be 0.

-- check: machine_learning_curated_pairs_each_device_with_its_owner
SELECT COUNT(*) AS violations
FROM machine_learning_curated AS m
WHERE NOT EXISTS (
    SELECT 1
    FROM customer_curated AS c
    JOIN accelerometer_trusted AS a ON a.user = c.email
    WHERE c.serialnumber = m.serialnumber
      AND a.timestamp = m.timestamp AND a.x = m.x AND a.y = m.y AND a.z = m.z
);
