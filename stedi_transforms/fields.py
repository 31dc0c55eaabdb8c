"""The landing files' field names, as plain strings, spelled in this one place.

:mod:`stedi_transforms.schemas` builds the Spark schemas from them and is where the package imports them from; the
generator, which runs without Spark, imports them from here.
"""

# customer
CUSTOMER_NAME = "customerName"
EMAIL = "email"
PHONE = "phone"
BIRTH_DAY = "birthDay"
SERIAL_NUMBER = "serialNumber"
REGISTRATION_DATE = "registrationDate"
LAST_UPDATE_DATE = "lastUpdateDate"
SHARE_WITH_RESEARCH_AS_OF_DATE = "shareWithResearchAsOfDate"
SHARE_WITH_PUBLIC_AS_OF_DATE = "shareWithPublicAsOfDate"
SHARE_WITH_FRIENDS_AS_OF_DATE = "shareWithFriendsAsOfDate"

# accelerometer
USER = "user"
TIMESTAMP = "timestamp"
X = "x"
Y = "y"
Z = "z"

# step trainer (SERIAL_NUMBER as above)
SENSOR_READING_TIME = "sensorReadingTime"
DISTANCE_FROM_OBJECT = "distanceFromObject"
