//! iDDS's integer statuses and types by name (the enums of iDDS's `constants.py`, as listed in
//! the schema reference).

const REQUEST_STATUS: &[&str] = &[
    "New",
    "Ready",
    "Transforming",
    "Finished",
    "SubFinished",
    "Failed",
    "Extend",
    "ToCancel",
    "Cancelling",
    "Cancelled",
    "ToSuspend",
    "Suspending",
    "Suspended",
    "ToResume",
    "Resuming",
    "ToExpire",
    "Expiring",
    "Expired",
    "ToFinish",
    "ToForceFinish",
    "Terminating",
    "Building",
    "Built",
    "Throttling",
    "ToClose",
];

const PROCESSING_STATUS: &[&str] = &[
    "New",
    "Submitting",
    "Submitted",
    "Running",
    "Finished",
    "Failed",
    "Lost",
    "Cancel",
    "FinishedOnStep",
    "FinishedOnExec",
    "FinishedTerm",
    "SubFinished",
    "ToCancel",
    "Cancelling",
    "Cancelled",
    "ToSuspend",
    "Suspending",
    "Suspended",
    "ToResume",
    "Resuming",
    "ToExpire",
    "Expiring",
    "Expired",
    "TimeOut",
    "ToFinish",
    "ToForceFinish",
    "Broken",
    "Terminating",
    "ToTrigger",
    "Triggering",
    "Synchronizing",
    "Prepared",
];

const COLLECTION_STATUS: &[&str] = &[
    "New",
    "Updated",
    "Processing",
    "Open",
    "Closed",
    "SubClosed",
    "Failed",
    "Deleted",
    "Cancelled",
    "Suspended",
];

const CONTENT_STATUS: &[&str] = &[
    "New",
    "Processing",
    "Available",
    "Failed",
    "FinalFailed",
    "Lost",
    "Deleted",
    "Mapped",
    "FakeAvailable",
    "Missing",
    "Cancelled",
    "Activated",
    "SubAvailable",
    "FinalSubAvailable",
    "PreProcessing",
];

const REQUEST_TYPE: &[&str] = &[
    "Workflow",
    "EventStreaming",
    "StageIn",
    "ActiveLearning",
    "HyperParameterOpt",
    "Derivation",
    "iWorkflow",
    "iWorkflowLocal",
    "GenericWorkflow",
    "WorkData",
];

const TRANSFORM_TYPE: &[&str] = &[
    "Workflow",
    "EventStreaming",
    "StageIn",
    "ActiveLearning",
    "HyperParameterOpt",
    "Derivation",
    "Processing",
    "Actuating",
    "Data",
    "iWorkflow",
    "iWork",
    "GenericWorkflow",
    "GenericWork",
    "BuildWork",
];

const RELATION_TYPE: &[&str] = &["Input", "Output", "Log"];

fn name(list: &'static [&'static str], value: i64) -> &'static str {
    usize::try_from(value)
        .ok()
        .and_then(|i| list.get(i))
        .copied()
        .unwrap_or(if value == 99 { "Other" } else { "Unknown" })
}

/// A request's (or transform's: the two share their numbering up to 22) status.
pub fn request_status(value: i64) -> &'static str {
    name(REQUEST_STATUS, value)
}

pub fn processing_status(value: i64) -> &'static str {
    name(PROCESSING_STATUS, value)
}

pub fn collection_status(value: i64) -> &'static str {
    name(COLLECTION_STATUS, value)
}

pub fn content_status(value: i64) -> &'static str {
    name(CONTENT_STATUS, value)
}

pub fn request_type(value: i64) -> &'static str {
    name(REQUEST_TYPE, value)
}

pub fn transform_type(value: i64) -> &'static str {
    name(TRANSFORM_TYPE, value)
}

pub fn relation_type(value: i64) -> &'static str {
    name(RELATION_TYPE, value)
}

/// A request status given by name (any case) or number.
pub fn parse_request_status(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return (0..REQUEST_STATUS.len() as i64).contains(&n).then_some(n);
    }
    REQUEST_STATUS
        .iter()
        .position(|s| s.eq_ignore_ascii_case(text))
        .map(|i| i as i64)
}

/// A processing status's place in the lifecycle, for column order.
pub fn processing_rank(name: &str) -> usize {
    PROCESSING_STATUS
        .iter()
        .position(|s| *s == name)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_by_number_and_name() {
        assert_eq!(request_status(3), "Finished");
        assert_eq!(request_status(24), "ToClose");
        assert_eq!(request_status(77), "Unknown");
        assert_eq!(request_type(99), "Other");
        assert_eq!(processing_status(14), "Cancelled");
        assert_eq!(content_status(4), "FinalFailed");
        assert_eq!(parse_request_status("finished"), Some(3));
        assert_eq!(parse_request_status("5"), Some(5));
        assert_eq!(parse_request_status("Done"), None);
        assert!(processing_rank("Running") < processing_rank("Finished"));
    }
}
