-- Athena DDL: register the Delta tables the Glue jobs write with --FORMAT delta.
-- No column list: Athena reads the schema from each table's Delta log. (json and glueparquet tables are
-- created and kept up to date in the Data Catalog by the jobs' catalog-updating sink instead.)

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`customer_rejected`
LOCATION 's3://${bucket}/customer/rejected/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`accelerometer_rejected`
LOCATION 's3://${bucket}/accelerometer/rejected/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`step_trainer_rejected`
LOCATION 's3://${bucket}/step_trainer/rejected/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`customer_trusted`
LOCATION 's3://${bucket}/customer/trusted/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`accelerometer_trusted`
LOCATION 's3://${bucket}/accelerometer/trusted/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`step_trainer_trusted`
LOCATION 's3://${bucket}/step_trainer/trusted/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`customer_curated`
LOCATION 's3://${bucket}/customer/curated/'
TBLPROPERTIES ('table_type' = 'DELTA');

CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`machine_learning_curated`
LOCATION 's3://${bucket}/step_trainer/curated/'
TBLPROPERTIES ('table_type' = 'DELTA');
