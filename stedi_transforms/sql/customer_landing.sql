-- Athena DDL: the customer landing zone, raw JSON lines as they arrive in s3://${bucket}/customer/landing/.
-- Columns are the library's customer schema (stedi_transforms/schemas.py), lower-cased as Athena keeps them.
-- Malformed lines read as all-null rows here; the Glue jobs quarantine them in customer/rejected with a reason.
CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`customer_landing` (
  `customername`              string,
  `email`                     string,
  `phone`                     string,
  `birthday`                  string,
  `serialnumber`              string,
  `registrationdate`          bigint,
  `lastupdatedate`            bigint,
  `sharewithresearchasofdate` bigint,
  `sharewithpublicasofdate`   bigint,
  `sharewithfriendsasofdate`  bigint
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true', 'case.insensitive' = 'true')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://${bucket}/customer/landing/'
TBLPROPERTIES ('classification' = 'json');
