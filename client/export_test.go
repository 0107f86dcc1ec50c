package client

// FromStatusForTest exposes fromStatus to the external tests.
var FromStatusForTest = fromStatus
