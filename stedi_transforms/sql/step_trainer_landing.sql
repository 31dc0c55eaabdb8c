-- Athena DDL: the step_trainer landing zone, raw JSON lines as they arrive in s3://${bucket}/step_trainer/landing/.
-- Columns are the library's step_trainer schema (stedi_transforms/schemas.py), lower-cased as Athena keeps them.
-- Malformed lines read as all-null rows here; the Glue jobs quarantine them in step_trainer/rejected with a reason.
CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`step_trainer_landing` (
  `sensorreadingtime`  bigint,
  `serialnumber`       string,
  `distancefromobject` bigint
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true', 'case.insensitive' = 'true')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${bucket}/step_trainer/landing/'
TBLPROPERTIES ('classification' = 'json');
