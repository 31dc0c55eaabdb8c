-- Athena DDL: the accelerometer landing zone, raw JSON lines as they arrive in s3://${bucket}/accelerometer/landing/.
-- Columns are the library's accelerometer schema (stedi_transforms/schemas.py), lower-cased as Athena keeps them.
-- Malformed lines read as all-null rows here; the Glue jobs quarantine them in accelerometer/rejected with a reason.
CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`accelerometer_landing` (
  `user`      string,
  `timestamp` bigint,
  `x`         double,
  `y`         double,
  `z`         double
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true', 'case.insensitive' = 'true')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${bucket}/accelerometer/landing/'
TBLPROPERTIES ('classification' = 'json');
