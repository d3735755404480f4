//! NCP request functions: which carry a subfunction (and how), and their names.
//!
//! | layout | bytes after the function byte (offset 6) |
//! |---|---|
//! | [`SubfunctionLayout::None`] | parameters |
//! | [`SubfunctionLayout::Code`] | subfunction (1), parameters |
//! | [`SubfunctionLayout::LengthAndCode`] | length (2, big-endian, counts what follows), subfunction (1), parameters |
//!
//! Both tables were checked against Wireshark 4.0's NCP dissector (generated from
//! `tools/ncp2222.py`) by decoding hand-built requests for every function code with `tshark`.

/// How a request function's subfunction is carried after the function byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubfunctionLayout {
    /// The function has no subfunction.
    None,
    /// One subfunction byte at offset 7.
    Code,
    /// A big-endian length word at offset 7 (counting the bytes after it, subfunction
    /// included), then the subfunction byte at offset 9.
    LengthAndCode,
}

/// The subfunction layout of request function `function` (as Wireshark 4.0 decodes it).
pub fn subfunction_layout(function: u8) -> SubfunctionLayout {
    match function {
        0x11 | 0x15 | 0x16 | 0x17 | 0x23 | 0x24 | 0x5a | 0x72 | 0x7b | 0x83 => {
            SubfunctionLayout::LengthAndCode
        }
        0x20 | 0x22 | 0x56 | 0x57 | 0x58 | 0x59 | 0x5c | 0x5e | 0x68 | 0x6f => {
            SubfunctionLayout::Code
        }
        _ => SubfunctionLayout::None,
    }
}

/// A short name for a request function, `None` when not in the table. Functions with
/// subfunctions get their family's name; the others Wireshark's name for the call.
pub fn function_name(function: u8) -> Option<&'static str> {
    Some(match function {
        0x01 => "File Set Lock",
        0x02 => "File Release Lock",
        0x03 => "Log File Exclusive",
        0x04 => "Lock File Set",
        0x05 => "Release File",
        0x06 => "Release File Set",
        0x07 => "Clear File",
        0x08 => "Clear File Set",
        0x09 => "Log Logical Record",
        0x0a => "Lock Logical Record Set",
        0x0b => "Clear Logical Record",
        0x0c => "Release Logical Record",
        0x0d => "Release Logical Record Set",
        0x0e => "Clear Logical Record Set",
        0x11 => "Print services",
        0x12 => "Get Volume Info with Number",
        0x13 => "Get Station Number",
        0x14 => "Get File Server Date And Time",
        0x15 => "Message services",
        0x16 => "Directory services",
        0x17 => "File server environment",
        0x18 => "End of Job",
        0x19 => "Logout",
        0x1a => "Log Physical Record",
        0x1b => "Lock Physical Record Set",
        0x1c => "Release Physical Record",
        0x1d => "Release Physical Record Set",
        0x1e => "Clear Physical Record",
        0x1f => "Clear Physical Record Set",
        0x20 => "Semaphore services",
        0x21 => "Negotiate Buffer Size",
        0x22 => "Transaction tracking",
        0x23 => "AFP services",
        0x24 => "NCP extension services",
        0x25 => "Execute NCP Extension",
        0x3b | 0x3d => "Commit File",
        0x3e => "File Search Initialize",
        0x3f => "File Search Continue",
        0x40 => "Search for a File",
        0x41 | 0x4c => "Open File",
        0x42 => "Close File",
        0x43 | 0x4d => "Create File",
        0x44 => "Erase File",
        0x45 => "Rename File",
        0x46 => "Set File Attributes",
        0x47 => "Get Current Size of File",
        0x48 => "Read From A File",
        0x49 => "Write to a File",
        0x4a => "Copy from One File to Another",
        0x4b => "Set File Time Date Stamp",
        0x4f => "Set File Extended Attributes",
        0x54 => "Open/Create File",
        0x55 => "Get Sparse File Data Block Bit Map",
        0x56 => "Extended attribute services",
        0x57 => "Name space services",
        0x58 => "Auditing services",
        0x59 => "Enhanced name space services",
        0x5a => "Data migration services",
        0x5b => "NMAS Graded Authentication",
        0x5c => "SecretStore services",
        0x5e => "NMAS services",
        0x61 => "Get Big Packet NCP Max Packet Size",
        0x62 => "Negotiate NDS connection buffer size",
        0x65 => "Packet Burst Connection Request",
        0x68 => "NDS services",
        0x6f => "Semaphore services",
        0x72 => "Time synchronization services",
        0x7b => "Server statistics services",
        _ => return None,
    })
}
