"""The benchmark of `stedi run` at growing scales, and the two references it is measured against."""
