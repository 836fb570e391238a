// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {CarbonCredits} from "../../../contracts/CarbonCredits.sol";
import {EmissionDataLog} from "../../../contracts/EmissionDataLog.sol";
import {Settlement} from "../../../contracts/Settlement.sol";
import {TestBaht} from "../../../contracts/TestBaht.sol";
import {ICarbonCredits} from "../../../contracts/interfaces/ICarbonCredits.sol";
import {ICarbonRegistry} from "../../../contracts/interfaces/ICarbonRegistry.sol";
import {IEmissionDataLog} from "../../../contracts/interfaces/IEmissionDataLog.sol";
import {ISettlement} from "../../../contracts/interfaces/ISettlement.sol";
import {QuarterLib} from "../../../contracts/libraries/QuarterLib.sol";

import {Test} from "../utils/BaseTest.sol";

/// @title SettlementHandler
/// @notice Drives quarterly settlement with bounded inputs: emission and removal commits (some of
/// them late, into the quarter just ended), compliance and voluntary retirements, warps across
/// quarters, new terms and grace periods, settle batches (which may hold already-settled,
/// duplicated, unregistered or term-less participants), debt payments and allowance claims.
/// @dev fail_on_revert is on: every call the handler makes must succeed unless its own model
/// predicts the revert, in which case it calls through try/catch and requires that exact error.
/// The model (terms, data totals, compliance tonnes, bills, payments, claims, serial cursors) is
/// computed here from the handler's own inputs and never read back from the contracts.
contract SettlementHandler is Test {
    uint256 internal constant ACTORS = 5;
    /// @dev Quarters under test: the quarter of the start time and the four after it.
    uint16 public constant PERIODS = 5;
    uint256 internal constant MAX_GRACE = 20 days;
    uint64 internal constant MAX_COMMIT_KG = 1_500_000;
    uint256 internal constant MAX_RETIRE = 2_000;

    struct Config {
        Settlement settlement;
        CarbonCredits credits;
        EmissionDataLog dataLog;
        TestBaht baht;
        address admin;
        address oracle;
        address regulator;
        uint256 projectBatch;
        uint256 creditsEach;
    }

    struct Key {
        uint16 period;
        address participant;
    }

    struct AllowanceBatch {
        uint256 id;
        uint16 period;
        address owner;
        uint48 start;
        uint64 tonnes;
    }

    Settlement internal immutable settlement;
    CarbonCredits internal immutable credits;
    EmissionDataLog internal immutable dataLog;
    TestBaht internal immutable baht;
    address internal immutable admin;
    address internal immutable oracle;
    address internal immutable regulator;
    uint256 internal immutable projectBatch;
    uint16 public immutable firstPeriod;
    uint40 public immutable maxTime;

    /// @dev Five registered, verified participants, then one address that never registers.
    address[] internal _all;
    mapping(address who => bool) public registered;
    mapping(address who => ICarbonRegistry.Sector) public sectorOf;
    mapping(address who => uint256) public creditBalance;

    /// @dev The model clock and grace; every entry point re-applies the clock with vm.warp.
    uint40 public time;
    uint32 public grace;

    mapping(uint16 period => mapping(ICarbonRegistry.Sector sector => ISettlement.Terms)) internal _termsOf;
    mapping(uint16 period => bool) public anySettled;

    mapping(address who => mapping(uint16 period => uint256 kg)) public emissions;
    mapping(address who => mapping(uint16 period => uint256 kg)) public removals;
    mapping(address who => mapping(uint16 period => uint256 tonnes)) public complianceTonnes;

    Key[] internal _settled;
    mapping(uint16 period => mapping(address who => uint256)) public settleCount;
    /// @dev surcharge + base charge as the handler computed them at settlement.
    mapping(uint16 period => mapping(address who => uint256)) public charged;
    mapping(uint16 period => mapping(address who => uint256)) public paid;
    mapping(uint16 period => mapping(address who => uint256)) public allowanceOf;
    mapping(uint16 period => mapping(address who => ISettlement.Classification)) public classificationOf;
    mapping(uint16 period => mapping(address who => bool)) public claimed;
    mapping(uint16 period => uint48) public nextSerial;
    AllowanceBatch[] internal _allowances;

    uint256 public totalPaid;
    uint256 public totalClaimedTonnes;
    uint256 public successfulSettlements;
    uint256 public expectedReverts;
    uint256 public totalCalls;
    uint256 internal _nonce;
    mapping(bytes32 name => uint256) public calls;

    modifier step(bytes32 name) {
        vm.warp(time);
        ++calls[name];
        ++totalCalls;
        _;
    }

    constructor(
        Config memory c,
        address[] memory actors,
        ICarbonRegistry.Sector[] memory sectors,
        address outsider
    ) {
        require(actors.length == ACTORS && sectors.length == ACTORS, "handler: five actors");
        settlement = c.settlement;
        credits = c.credits;
        dataLog = c.dataLog;
        baht = c.baht;
        admin = c.admin;
        oracle = c.oracle;
        regulator = c.regulator;
        projectBatch = c.projectBatch;
        time = uint40(block.timestamp);
        firstPeriod = QuarterLib.period(block.timestamp);
        maxTime = uint40(QuarterLib.periodStart(firstPeriod + PERIODS) + MAX_GRACE + 1 days);
        for (uint256 i; i < ACTORS; ++i) {
            _all.push(actors[i]);
            registered[actors[i]] = true;
            sectorOf[actors[i]] = sectors[i];
            creditBalance[actors[i]] = c.creditsEach;
        }
        _all.push(outsider);
    }

    /// @dev Terms for Energy, Industry and Forestry in every quarter under test, for Transport in
    /// every other quarter (`setTerms` may add more). Called once by the test's setUp.
    function bootstrap() external {
        ICarbonRegistry.Sector[3] memory sectors =
            [ICarbonRegistry.Sector.Energy, ICarbonRegistry.Sector.Industry, ICarbonRegistry.Sector.Forestry];
        for (uint16 k; k < PERIODS; ++k) {
            for (uint256 s; s < sectors.length; ++s) {
                uint256 h = uint256(keccak256(abi.encode("terms", k, s)));
                _applyTerms(firstPeriod + k, sectors[s], h, h >> 64, h >> 128, h >> 192);
            }
            if (k % 2 == 1) {
                uint256 h = uint256(keccak256(abi.encode("terms", k, "transport")));
                _applyTerms(firstPeriod + k, ICarbonRegistry.Sector.Transport, h, h >> 64, h >> 128, h >> 192);
            }
        }
    }

    // ------------------------------------------------------------------ regulator and admin

    function setTerms(
        uint256 periodSeed,
        uint256 sectorSeed,
        uint256 cap,
        uint256 rate,
        uint256 base,
        uint256 tol
    ) external step("setTerms") {
        uint16 period = _period(periodSeed);
        ICarbonRegistry.Sector sector = sectorSeed % 4 == 3
            ? ICarbonRegistry.Sector.Transport
            : ICarbonRegistry.Sector(sectorSeed % 4 == 2 ? 5 : sectorSeed % 4); // Energy, Industry, Forestry
        if (time >= _opensAt(period) || anySettled[period]) {
            vm.prank(regulator);
            try settlement.setTerms(period, sector, _boundTerms(cap, rate, base, tol)) {
                revert("handler: frozen terms changed");
            } catch (bytes memory err) {
                vm.assertEq(
                    err, abi.encodeWithSelector(ISettlement.SettlementTermsFrozen.selector, period, sector)
                );
            }
            ++expectedReverts;
            return;
        }
        _applyTerms(period, sector, cap, rate, base, tol);
    }

    function setGrace(uint256 seed) external step("setGrace") {
        uint32 g = uint32(bound(seed, 0, MAX_GRACE));
        vm.prank(admin);
        settlement.setGrace(g);
        grace = g;
    }

    function warp(uint256 seed) external step("warp") {
        uint256 t = uint256(time) + bound(seed, 1 hours, 45 days);
        time = uint40(t > maxTime ? maxTime : t);
    }

    // ------------------------------------------------------------------ data and retirements

    /// @dev One batch for the current quarter (up to now) or, `late`, for the quarter just ended.
    function commit(uint256 actorSeed, uint256 kgSeed, uint256 flowSeed, bool late) external step("commit") {
        address who = _all[actorSeed % _all.length]; // the data log does not check registration
        (uint16 period, uint40 start, uint40 end) = _window(late);
        uint64 kg = uint64(bound(kgSeed, 0, MAX_COMMIT_KG));
        IEmissionDataLog.Flow flow =
            flowSeed % 4 == 0 ? IEmissionDataLog.Flow.Removal : IEmissionDataLog.Flow.Emission;
        bytes32 id = keccak256(abi.encode("settlement-handler", ++_nonce));
        vm.prank(oracle);
        dataLog.commitBatch(
            IEmissionDataLog.EmissionBatch({
                batchId: id,
                participant: who,
                projectKey: bytes32(0),
                periodStart: start,
                periodEnd: end,
                readingCount: 1,
                readingsRoot: id,
                kgCO2e: kg,
                qualityScore: 80,
                gradeCounts: 0,
                flow: flow
            })
        );
        if (flow == IEmissionDataLog.Flow.Emission) emissions[who][period] += kg;
        else removals[who][period] += kg;
    }

    /// @dev Retires project credits, mostly for compliance against the current or the last quarter.
    function retire(uint256 actorSeed, uint256 amountSeed, bool late, uint256 purposeSeed)
        external
        step("retire")
    {
        address who = _all[actorSeed % ACTORS];
        uint256 balance = creditBalance[who];
        if (balance == 0) return;
        uint48 amount = uint48(bound(amountSeed, 1, balance < MAX_RETIRE ? balance : MAX_RETIRE));
        (uint16 period, uint40 start, uint40 end) = _window(late);
        bool compliance = purposeSeed % 5 != 0;
        vm.prank(who);
        credits.retire(
            projectBatch,
            amount,
            "CarboniX handler",
            compliance
                ? ICarbonCredits.RetirementPurpose.Compliance
                : ICarbonCredits.RetirementPurpose.VoluntaryOffset,
            start,
            end
        );
        creditBalance[who] = balance - amount;
        if (compliance) complianceTonnes[who][period] += amount;
    }

    // ------------------------------------------------------------------ settlement

    function settle(uint256 periodSeed, uint256 mask, uint256 rotation, uint256 dupSeed)
        external
        step("settle")
    {
        uint16 period = _settlePeriod(periodSeed);
        address[] memory ps = _pick(period, mask, rotation, dupSeed);
        bytes memory err = _expectedSettleError(period, ps);
        if (err.length != 0) {
            try settlement.settle(period, ps) {
                revert("handler: settle should have reverted");
            } catch (bytes memory got) {
                vm.assertEq(got, err);
            }
            ++expectedReverts;
            return;
        }
        settlement.settle(period, ps);
        for (uint256 i; i < ps.length; ++i) {
            address p = ps[i];
            (uint256 charge, uint256 allowance, ISettlement.Classification c) = _bill(period, p);
            ++settleCount[period][p];
            charged[period][p] = charge;
            allowanceOf[period][p] = allowance;
            classificationOf[period][p] = c;
            _settled.push(Key(period, p));
            ++successfulSettlements;
        }
        if (ps.length != 0) anySettled[period] = true;
    }

    function payDebt(uint256 keySeed, uint256 amountSeed, uint256 payerSeed, uint256 mode)
        external
        step("payDebt")
    {
        (uint16 period, address p) = _key(keySeed, mode % 8 == 7);
        uint256 debt = charged[period][p] - paid[period][p];
        address payer =
            payerSeed % 3 == 0 ? p : address(uint160(uint256(keccak256(abi.encode("payer", payerSeed % 4)))));
        uint256 amount;
        bytes memory err;
        if (debt == 0) {
            amount = bound(amountSeed, 0, 1e6);
            err = abi.encodeWithSelector(ISettlement.SettlementNothingOwed.selector, period, p);
        } else if (mode % 8 == 1) {
            amount = debt + bound(amountSeed, 1, 1e6);
            err = abi.encodeWithSelector(ISettlement.SettlementOverpaid.selector, debt, amount);
        } else if (mode % 8 == 2) {
            err = abi.encodeWithSelector(ISettlement.SettlementZeroPayment.selector);
        } else {
            uint256 most = debt < baht.FAUCET_LIMIT() ? debt : baht.FAUCET_LIMIT();
            amount = mode % 8 == 3 ? most : bound(amountSeed, 1, most);
        }
        if (err.length != 0) {
            vm.prank(payer);
            try settlement.payDebt(period, p, amount) {
                revert("handler: payDebt should have reverted");
            } catch (bytes memory got) {
                vm.assertEq(got, err);
            }
            ++expectedReverts;
            return;
        }
        vm.startPrank(payer);
        baht.faucet(amount);
        baht.approve(address(settlement), amount);
        settlement.payDebt(period, p, amount);
        vm.stopPrank();
        paid[period][p] += amount;
        totalPaid += amount;
    }

    function claimAllowance(uint256 keySeed, uint256 mode) external step("claimAllowance") {
        (uint16 period, address p) = _key(keySeed, mode % 6 == 5);
        uint256 tonnes = allowanceOf[period][p];
        vm.prank(p);
        if (settleCount[period][p] == 0 || tonnes == 0 || claimed[period][p]) {
            try settlement.claimAllowance(period) {
                revert("handler: claim should have reverted");
            } catch (bytes memory got) {
                vm.assertEq(
                    got, abi.encodeWithSelector(ISettlement.SettlementNothingToClaim.selector, period, p)
                );
            }
            ++expectedReverts;
            return;
        }
        uint256 id = settlement.claimAllowance(period);
        uint48 start = nextSerial[period] == 0 ? 1 : nextSerial[period];
        vm.assertEq(
            id, uint256(keccak256(abi.encode(keccak256(bytes(allowancePrefix(period))), start))), "batch id"
        );
        nextSerial[period] = start + uint48(tonnes);
        claimed[period][p] = true;
        totalClaimedTonnes += tonnes;
        _allowances.push(AllowanceBatch(id, period, p, start, uint64(tonnes)));
    }

    // ------------------------------------------------------------------ views for the invariants

    function all() external view returns (address[] memory) {
        return _all;
    }

    function settledCount() external view returns (uint256) {
        return _settled.length;
    }

    function settledAt(uint256 i) external view returns (Key memory) {
        return _settled[i];
    }

    function allowanceCount() external view returns (uint256) {
        return _allowances.length;
    }

    function allowanceAt(uint256 i) external view returns (AllowanceBatch memory) {
        return _allowances[i];
    }

    function termsOf(uint16 period, ICarbonRegistry.Sector sector)
        external
        view
        returns (ISettlement.Terms memory)
    {
        return _termsOf[period][sector];
    }

    /// @dev The expected serial prefix, spelled out independently of CarbonCredits.
    function allowancePrefix(uint16 period) public pure returns (string memory) {
        return string.concat(
            "TH-ALLOWANCE-", vm.toString(uint256(period / 4)), "Q", vm.toString(uint256(period % 4 + 1))
        );
    }

    // ------------------------------------------------------------------ model

    function _opensAt(uint16 period) internal view returns (uint256) {
        return QuarterLib.periodStart(period + 1) + grace;
    }

    function _period(uint256 seed) internal view returns (uint16) {
        return firstPeriod + uint16(seed % PERIODS);
    }

    /// @dev A settled (period, participant), or (`any`, or nothing settled yet) any pair at all.
    function _key(uint256 seed, bool any) internal view returns (uint16, address) {
        if (any || _settled.length == 0) return (_period(seed), _all[(seed >> 8) % _all.length]);
        Key memory k = _settled[seed % _settled.length];
        return (k.period, k.participant);
    }

    /// @dev The current quarter from its start up to now, or the previous one in full.
    function _window(bool late) internal view returns (uint16 period, uint40 start, uint40 end) {
        period = QuarterLib.period(time);
        if (late && period > firstPeriod) {
            end = uint40(QuarterLib.periodStart(period) - 1);
            --period;
            start = uint40(QuarterLib.periodStart(period));
        } else {
            start = uint40(QuarterLib.periodStart(period));
            end = time;
        }
    }

    /// @dev Three times in four a quarter that is already open (if any), else any quarter under test.
    function _settlePeriod(uint256 seed) internal view returns (uint16) {
        if (seed % 4 == 0 || time < _opensAt(firstPeriod)) return _period(seed);
        uint16 open = 1;
        while (open < PERIODS && time >= _opensAt(firstPeriod + open)) ++open;
        return firstPeriod + uint16((seed >> 8) % open);
    }

    /// @dev Bit i of `mask` takes participant i; the Transport participant and the outsider are rarer. One time in three
    /// whoever is already settled is left out; otherwise the list may end with a duplicate of one
    /// of its entries. The list is rotated.
    function _pick(uint16 period, uint256 mask, uint256 rotation, uint256 dupSeed)
        internal
        view
        returns (address[] memory ps)
    {
        address[] memory chosen = new address[](_all.length);
        uint256 n;
        bool fresh = dupSeed % 3 == 1;
        for (uint256 i; i < _all.length; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            if (i >= ACTORS - 1 && (mask >> (8 * i)) % 4 != 0) continue; // Transport, outsider
            if (fresh && settleCount[period][_all[i]] != 0) continue;
            chosen[n++] = _all[i];
        }
        bool dup = n != 0 && !fresh && dupSeed % 5 == 0;
        ps = new address[](dup ? n + 1 : n);
        for (uint256 i; i < n; ++i) {
            ps[i] = chosen[(i + rotation % n) % n];
        }
        if (dup) ps[n] = chosen[(dupSeed / 5) % n];
    }

    /// @dev The first error settle must raise, in the contract's order of checks.
    function _expectedSettleError(uint16 period, address[] memory ps) internal view returns (bytes memory) {
        uint256 opens = _opensAt(period);
        if (time < opens) {
            return abi.encodeWithSelector(ISettlement.SettlementPeriodNotClosed.selector, period, opens);
        }
        for (uint256 i; i < ps.length; ++i) {
            address p = ps[i];
            bool seen = settleCount[period][p] != 0;
            for (uint256 j; j < i && !seen; ++j) {
                seen = ps[j] == p;
            }
            if (seen) {
                return abi.encodeWithSelector(ISettlement.SettlementAlreadySettled.selector, period, p);
            }
            if (!registered[p]) {
                return abi.encodeWithSelector(ISettlement.SettlementNotRegistered.selector, p);
            }
            if (!_termsOf[period][sectorOf[p]].set) {
                return abi.encodeWithSelector(ISettlement.SettlementNoTerms.selector, period, sectorOf[p]);
            }
        }
        return "";
    }

    /// @dev The billing equation on the model's totals: kg, tonnes and satang, rounded up.
    function _bill(uint16 period, address p)
        internal
        view
        returns (uint256 charge, uint256 allowance, ISettlement.Classification c)
    {
        ISettlement.Terms memory t = _termsOf[period][sectorOf[p]];
        uint256 e = emissions[p][period];
        uint256 r = removals[p][period];
        uint256 cb = complianceTonnes[p][period] * 1000;
        uint256 uncovered;
        if (e > t.capKg) {
            uint256 excess = e - t.capKg;
            if (excess > cb) uncovered = excess - cb;
        } else {
            allowance = (t.capKg - e) / 1000;
        }
        charge = _roundUp(uncovered * t.surchargeRate) + _roundUp((e < t.capKg ? e : t.capKg) * t.baseRate);
        if (e > r + t.toleranceKg) c = ISettlement.Classification.NetEmitter;
        else if (r > e + t.toleranceKg) c = ISettlement.Classification.NetAbsorber;
        else c = ISettlement.Classification.NetNeutral;
    }

    function _roundUp(uint256 milli) internal pure returns (uint256) {
        return milli / 1000 + (milli % 1000 == 0 ? 0 : 1);
    }

    function _boundTerms(uint256 cap, uint256 rate, uint256 base, uint256 tol)
        internal
        pure
        returns (ISettlement.Terms memory)
    {
        return ISettlement.Terms({
            capKg: uint64(bound(cap, 0, 3_000_000)),
            surchargeRate: uint40(bound(rate, 0, 50_000)),
            baseRate: uint40(bound(base, 0, 3_000)),
            floorPrice: 10_000,
            toleranceKg: uint32(bound(tol, 0, 50_000)),
            set: true
        });
    }

    function _applyTerms(
        uint16 period,
        ICarbonRegistry.Sector sector,
        uint256 cap,
        uint256 rate,
        uint256 base,
        uint256 tol
    ) internal {
        ISettlement.Terms memory t = _boundTerms(cap, rate, base, tol);
        vm.prank(regulator);
        settlement.setTerms(period, sector, t);
        _termsOf[period][sector] = t;
    }
}
