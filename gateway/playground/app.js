// placeholder: /v1/classify
